#!/usr/bin/env python3
"""Set up and run CityLink with nothing but Python 3.11+ and the package registries.

    python3 tasks.py demo    # make .venv, install, run `citylink demo` (platform + simulated vendors)
    python3 tasks.py test    # make .venv, install with test extras, run the test suite
    python3 tasks.py bench   # the ingest benchmark (not part of the tests)

Each command is idempotent: the virtual environment is made once and re-installed
only when pyproject.toml changes.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def setup(extras: str = "") -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"CityLink needs Python 3.11 or newer; this is {sys.version.split()[0]} ({sys.executable})")
    if not PY.exists():
        print(f"creating {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed{extras.replace(',', '-')}"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return
    spec = f".[{extras}]" if extras else "."
    print(f"installing CityLink ({spec}) into {VENV} …", flush=True)
    run([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(PY), "-m", "pip", "install", "--quiet", "-e", spec])
    stamp.write_text(want)


def run(cmd: list[str], **kw) -> None:
    code = subprocess.call(cmd, cwd=ROOT, **kw)
    if code:
        sys.exit(code)


def demo(args: list[str]) -> None:
    """``citylink demo``: the platform on its embedded defaults with simulated vendors for every service."""
    setup()
    data = os.environ.get("CITYLINK_DATA_DIR", str(ROOT / "var" / "demo"))
    cl = str(BIN / "citylink")
    os.execve(cl, [cl, "--data-dir", data, "demo", *args], dict(os.environ, CITYLINK_DATA_DIR=data))


def test(args: list[str]) -> None:
    setup("test")
    run([str(PY), "-m", "pytest", *args])


def bench(args: list[str]) -> None:
    setup()
    run([str(PY), "bench/ingest_core.py", *args])


COMMANDS = {"demo": demo, "test": test, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
