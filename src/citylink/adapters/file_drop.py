"""Files: a CSV or JSON-lines file (a backfill with ``citylink import``, or a dropped file).

The file is cut into raw messages by the source's payload format (one per CSV
row, with its header line, or per JSON line), archived in chunks and published
on the bus like any other transport.  Messages from a file are marked as a
backfill: old timestamps are expected, so they are not flagged ``late``.

A source with ``transport.directory`` is also watched (:class:`FileDrop`): a file
that matches ``transport.pattern`` and has stopped growing is moved to
``processing/``, archived row by row, then moved to ``done/`` — or to ``failed/``,
with a ``.reason`` file beside it, when it could not be read at all.  Rows that
cannot be normalized are quarantined like any message; the file is still done.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from .. import payload
from . import Transport, register

log = logging.getLogger(__name__)

register(Transport(
    name="file",
    title={"ko": "파일 (일괄 적재)", "en": "File (bulk load)"},
    profile=("A CSV (with a header row) or JSON-lines file in the source's `payload.encoding`, handed to the "
             "district (`citylink import --source <source> FILE`) or dropped in the agreed directory. "
             "Each row (line) is one message; rows are archived exactly as they are in the file."),
    keys={"directory": "where dropped files are picked up (watched by citylink serve); a relative path is "
                      "under the platform's data directory",
          "pattern": "file name pattern, e.g. *.csv (default: every file)"},
    unique=("directory",),
))


def import_file(platform, source: str, path: Path, *, chunk: int = 5000,
                progress: Callable[[int, int], None] | None = None) -> list[int]:
    """Archive and publish every record of ``path``; returns the raw ids (in file order)."""
    platform.check_source(source)
    spec = platform.specs.sources[source]
    data = Path(path).read_bytes()
    fmt = payload.get(spec.payload["format"])
    ids: list[int] = []
    buf: list[tuple[bytes, dict]] = []
    total = data.count(b"\n") + 1  # progress counts lines
    name = str(path)

    def flush(pos: int):
        msgs = platform.make_messages(source, buf, "file")
        for m in msgs:
            m.meta["file"] = name
            m.meta["backfill"] = True
        ids.extend(platform.submit(msgs))
        buf.clear()
        if progress:
            progress(pos, total)

    for body, meta in fmt.split(data, spec.payload):
        buf.append((body, meta))
        if len(buf) >= chunk:
            flush(min(meta.get("line", 0), total))
    if buf:
        flush(total)
    elif progress:
        progress(total, total)
    return ids


def drop_directory(data_dir: Path, transport: dict) -> Path:
    """A source's drop directory: ``transport.directory`` as written, or under the platform's data
    directory when it is relative (``drop/river-hangang`` → ``<data_dir>/drop/river-hangang``)."""
    folder = Path(transport["directory"]).expanduser()
    return folder if folder.is_absolute() else Path(data_dir) / folder


class FileDrop:
    """Watches the directory of every ``file`` source that names one, by polling (no inotify needed,
    and it works on network shares)."""

    def __init__(self, platform, *, interval: float = 2.0):
        self.platform = platform
        self.interval = interval
        self._sizes: dict[Path, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one scan at a time (the watcher's, or a caller's such as a simulator)
        self._thread = threading.Thread(target=self._run, name="citylink-file-drop", daemon=True)

    def start(self) -> "FileDrop":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scan()
            except Exception:
                log.exception("file drop scan failed")

    def watched(self) -> dict[str, tuple[Path, str]]:
        out = {}
        for sid, src in self.platform.specs.sources.items():
            t = src.transport
            if t["type"] == "file" and t.get("directory"):
                out[sid] = (drop_directory(self.platform.settings.data_dir, t), t.get("pattern", "*"))
        return out

    def scan(self) -> list[tuple[Path, str]]:
        """Take every file that has stopped growing since the last scan; returns (file, done|failed)."""
        with self._lock:
            return self._scan()

    def _scan(self) -> list[tuple[Path, str]]:
        handled = []
        for source, (folder, pattern) in self.watched().items():
            if not folder.is_dir():
                continue
            for path in sorted(p for p in folder.glob(pattern) if p.is_file()):
                size = path.stat().st_size
                if self._sizes.get(path) != size:  # new or still being written: look again next time
                    self._sizes[path] = size
                    continue
                del self._sizes[path]
                handled.append((path, self._take(source, folder, path)))
        return handled

    def _take(self, source: str, folder: Path, path: Path) -> str:
        work = folder / "processing"
        work.mkdir(exist_ok=True)
        taken = work / path.name
        path.rename(taken)  # atomic on one file system: no other scan takes it twice
        try:
            ids = import_file(self.platform, source, taken)
            if not ids:
                raise ValueError("the file holds no rows")
        except Exception as e:  # noqa: BLE001 - a file that cannot be read is set aside with the reason
            return self._move(taken, folder / "failed", f"{type(e).__name__}: {e}")
        return self._move(taken, folder / "done", None)

    @staticmethod
    def _move(path: Path, to: Path, reason: str | None) -> str:
        to.mkdir(exist_ok=True)
        target = to / path.name
        n = 1
        while target.exists():
            target = to / f"{path.stem}.{n}{path.suffix}"
            n += 1
        path.rename(target)
        if reason is not None:
            target.with_name(target.name + ".reason").write_text(reason + "\n", encoding="utf-8")
            log.warning("%s: moved to %s: %s", path.name, to, reason)
        return to.name
