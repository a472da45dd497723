"""A private Mosquitto, run with CityLink's broker configuration (``data/mosquitto.conf``).

For tests, benchmarks and a local demo where the ``mosquitto`` program is installed: it
listens on a free loopback port and keeps its persistence in a directory of its own.
A production broker is run by the operator with the same configuration file.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path

CONFIG = resources.files("citylink").joinpath("data/mosquitto.conf")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalMosquitto:
    def __init__(self, workdir: Path, port: int | None = None, program: str | None = None):
        self.program = program or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = port or free_port()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = CONFIG.read_text()
        conf = re.sub(r"(?m)^listener .*$", f"listener {self.port} 127.0.0.1", conf)
        conf = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {self.dir}/", conf)
        if os.geteuid() == 0:
            # started as root, Mosquitto drops to the user "mosquitto", which cannot reach a private
            # directory of root's: its persistence would silently fail and sessions would not survive
            # a broker restart.  This broker is for tests and benchmarks: it may stay root.
            conf += "\nuser root\n"
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(conf)
        self.log = self.dir / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    @property
    def available(self) -> bool:
        return Path(self.program).exists()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> "LocalMosquitto":
        self.proc = subprocess.Popen([self.program, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the broker saves its persistence file first
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> "LocalMosquitto":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
