"""Helpers for the core test-suite: spec texts, tmp spec dirs, platforms, messages."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import orjson

from citylink.clock import ManualClock, to_us
from citylink.config import BUNDLED_SPECS, Settings
from citylink.normalize.pipeline import Normalizer
from citylink.normalize.records import OUTCOME_NAMES, RawMessage
from citylink.platform import Platform
from citylink.spec.loader import load_texts

UTC = timezone.utc
# 09:30 KST: the shipped examples (09:00 KST = 2026-11-26T00:00Z) are half an hour old
NOW = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)
NOW_US = to_us(NOW)
EXAMPLE_US = to_us(datetime(2026, 11, 26, 0, 0, tzinfo=UTC))

ACME = "bins-acme-http"
BRAVO = "bins-bravo-gateway"
WASTE_TYPE = "WasteContainer"
SDM = "https://smartdatamodels.org/dataModel.WasteManagement/"

def air_service(attributes: str, visibility: str | None = None) -> str:
    """The text of a service spec "air" (department environment) with one entity type, AirQualityObserved, of
    these ``attributes`` (YAML lines, 6-space indented); tests add what they need after it (``rules:``, …)."""
    return ("citylink: service/1\nid: air\nversion: 1.0.0\nname: {ko: 대기질, en: Air quality}\ndepartment: environment\n"
            + (f"visibility: {visibility}\n" if visibility else "")
            + "entity_types:\n  AirQualityObserved:\n    attributes:\n" + attributes)


# A second service, for features the waste-bins specs do not use.
AIR_SERVICE = air_service(attributes="""\
      temperature: {type: Number, unit: CEL, range: [-40, 60]}
      relativeHumidity: {type: Number, unit: C62, range: [0, 1]}
      hcho: {type: Number, unit: GQ}
      no2: {type: Number, unit: GQ}
      pm10: {type: Number, unit: GQ, range: [0, 1000], on_out_of_range: reject}
      aqi: {type: Integer, range: [0, 500]}
      state:
        type: Text
        on_out_of_range: reject
        codes:
          ok: {ko: 정상, en: OK}
          fault: {ko: 고장, en: Fault}
      stationName: {type: Text}
      plate: {type: Text, personal: true}
      active: {type: Boolean}
      location: {type: GeoProperty}
""")

AIR_NS = "https://w3id.org/citylink/ns/"


def air_source(sid: str = "air-a", *, namespace: str | None = None, body: str = "", payload: str = "{format: json}",
               ts: str = '{field: ts, format: iso8601}', entity_id: str = '"{id}"', fields: str | None = None,
               version: str = "1.0.0", status: str = "live") -> str:
    """A source spec of the air service; ``fields`` (YAML lines, 2-space indented) default to temperature."""
    if fields is None:
        fields = "  temperature: {from: t}\n"
    text = (f"citylink: source/1\nid: {sid}\nservice: air\nversion: {version}\nstatus: {status}\n"
            + (f"namespace: {namespace}\n" if namespace else "")
            + f"transport: {{type: http_push}}\npayload: {payload}\n"
            f"entity: {{type: AirQualityObserved, id: {entity_id}}}\ntimestamp: {ts}\n")
    text += body
    if fields:
        text += "fields:\n" + fields
    return text


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def spec_dir(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write(root / name, text)
    return root


def copy_bundled(tmp: Path) -> Path:
    dst = tmp / "specs"
    shutil.copytree(BUNDLED_SPECS, dst)
    return dst / "waste-bins"


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``needle``."""
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(hits) >= nth, f"{needle!r} not in text"
    return hits[nth - 1]


def manual_clock(when: datetime = NOW) -> ManualClock:
    return ManualClock(when)


def specs_of(*docs: tuple[str, str]):
    return load_texts(list(docs))


def normalizer(specs, clock=None, registries=None, limits=None, key: bytes = b"test-key") -> Normalizer:
    return Normalizer(specs, deployment="dobong", pseudonym_key=key, clock=clock or manual_clock(),
                      limits=limits, registries=registries)


_next = [1000]


def messages(source: str, bodies, clock=None, *, meta: dict | None = None) -> list[RawMessage]:
    received = (clock or manual_clock()).now_us()
    out = []
    for b in bodies:
        _next[0] += 1
        if isinstance(b, (dict, list)):
            b = orjson.dumps(b)
        out.append(RawMessage(_next[0], source, received, b, "test", dict(meta or {})))
    return out


def outcomes(batch) -> dict[int, str]:
    """raw id → outcome name; asserts every message has exactly one."""
    seen: dict[int, str] = {}
    for rid, _src, code, *_ in batch.outcomes:
        assert rid not in seen, f"message {rid} has two outcomes"
        seen[rid] = OUTCOME_NAMES[code]
    return seen


def run_checked(norm: Normalizer, msgs: list[RawMessage], find_dedupe=None):
    batch = norm.run(msgs, find_dedupe)
    got = outcomes(batch)
    assert len(batch.outcomes) == len(msgs)
    assert set(got) == {m.id for m in msgs}
    return batch, got


def problems_of(batch) -> dict[int, list[dict]]:
    return {rid: probs for rid, _src, probs in batch.quarantine}


def obs_by_name(batch, rid: int | None = None) -> dict[str, tuple]:
    """attribute short name (the IRI's last segment) → observation row, for one message."""
    out = {}
    for o in batch.observations:
        if rid is None or o[0] == rid:
            out[o[2].rsplit("/", 1)[-1]] = o
    return out


def value_of(row: tuple):
    return orjson.loads(row[5]) if row[5] is not None else row[4]


def settings(data_dir: Path, **kw) -> Settings:
    kw.setdefault("pseudonym_key", "test-key")
    kw.setdefault("ingest_wait_seconds", 10.0)
    return Settings(data_dir=data_dir, **kw)


def make_platform(data_dir: Path, clock=None, **kw) -> Platform:
    return Platform(settings(data_dir, **kw), clock=clock)


def admin_client(platform: Platform):
    """A test client of the platform's API that sends the bootstrap admin key: it may write, and it reads
    every attribute whatever its visibility."""
    from fastapi.testclient import TestClient

    from citylink.api.app import create_app
    c = TestClient(create_app(platform))
    c.headers["Authorization"] = f"Bearer {platform.settings.resolved_admin_key()}"
    return c


def acme_body(device: str = "A-17", *, ts: str = "2026-11-26T09:00:00+09:00", fill=73, temp=12.5, battery=88,
              state="0", compactions=311, **extra) -> bytes:
    d = {"deviceId": device, "ts": ts, "fill_pct": fill, "temp_c": temp, "battery_pct": battery, "state": state,
         "compactions": compactions}
    d.update(extra)
    # json, not orjson: tests send integers beyond 64 bits too
    return json.dumps({k: v for k, v in d.items() if v is not None}, ensure_ascii=False).encode()


def acme_urn(local: str) -> str:
    return f"urn:ngsi-ld:WasteContainer:dobong:acme:{local}"


def bravo_urn(local: str) -> str:
    return f"urn:ngsi-ld:WasteContainer:dobong:bravo:{local}"


def ledger_balances(led: dict) -> None:
    for source, d in led.items():
        parts = sum(d.get(k, 0) for k in ("stored", "stored_flagged", "duplicate", "quarantined", "pending"))
        assert d["received"] == parts, (source, d)
        for k in ("stored", "stored_flagged", "duplicate", "quarantined", "pending"):
            assert d.get(k, 0) >= 0, (source, d)


def submit_and_wait(p: Platform, source: str, bodies, meta: dict | None = None, timeout: float = 20) -> dict[int, int]:
    msgs = p.make_messages(source, [(b if isinstance(b, bytes) else orjson.dumps(b), dict(meta or {}))
                                    for b in bodies], "test")
    ids = p.submit(msgs)
    got = p.wait(ids, timeout)
    assert len(got) == len(ids), "the normalizer did not finish in time"
    return {i: got[i] for i in ids}


def submit_examples(p: Platform, *sources: str) -> dict[str, int]:
    """Each source's example payload (its spec's ``payload.example``), stored (or stored flagged): the raw
    id of each."""
    from citylink.normalize.records import FLAGGED, STORED
    out = {}
    for source in sources:
        (rid, outcome), = submit_and_wait(p, source, [p.specs.sources[source].payload["example"]]).items()
        assert outcome in (STORED, FLAGGED), (source, OUTCOME_NAMES[outcome])
        out[source] = rid
    return out


def wait_until(pred, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def acme_variant(bins_dir: Path, source: str, namespace: str, transport: str) -> Path:
    """The shipped ACME bins source under another id, namespace and ``transport:`` block (YAML lines
    after ``transport:``), without its device registry; written beside the others."""
    text = (bins_dir / "sources/bins-acme-http.yaml").read_text()
    text = (text.replace("id: bins-acme-http", f"id: {source}").replace("namespace: acme", f"namespace: {namespace}")
            .replace("transport:\n  type: http_push", "transport:\n" + transport.rstrip("\n"))
            .replace("devices: ../devices/bins-acme-http.csv\n", ""))
    return write(bins_dir / f"sources/{source}.yaml", text)


# -- a PostgreSQL database of its own, for tests that run on both engines -------------------------------

PG_SERVER = os.environ.get("CITYLINK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432").rstrip("/")


@contextmanager
def pg_database(migrated: bool = False):
    """A new database on the test server (``CITYLINK_TEST_POSTGRES``, default 127.0.0.1:5432), dropped
    afterwards; with ``migrated``, a copy of a database with every migration applied (:func:`_pg_template`).
    The test is skipped, saying why, when the server or its PostGIS cannot be had."""
    import psycopg
    import pytest
    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at {PG_SERVER.rsplit('@', 1)[-1]} not reachable: {e}".strip())
    if not admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone():
        admin.close()
        pytest.skip("PostGIS is not installed on the PostgreSQL server (Debian: postgresql-15-postgis-3; "
                    ".ci/run installs it)")
    name = f"citylink_test_{secrets.token_hex(6)}"
    if not migrated:
        admin.execute(f"CREATE DATABASE {name}")
    else:
        try:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {_pg_template(admin)}")
        except psycopg.errors.InvalidCatalogName:   # dropped by hand meanwhile: made again
            _TEMPLATES.clear()
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {_pg_template(admin)}")
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


_TEMPLATES: dict[str, str] = {}


def _pg_template(admin) -> str:
    """The name of a database holding every migration of this checkout, made once per set of migrations (its
    name carries their hash) and copied for each test that starts a platform: PostGIS's extension and the
    migrations take a test a second or more, a copy a tenth of that.  Templates are never dropped here — a
    run of another checkout (CI's clean clone, a branch with another migration) may be copying one — and any
    ``citylink_tmpl_*`` database may be dropped by hand when no tests run: it is made again when needed."""
    import hashlib

    import psycopg

    from citylink.store import open_store
    from citylink.store.base import migrations
    digest = hashlib.sha256("".join(sql for _, _, sql in migrations("postgres")).encode()).hexdigest()[:12]
    name = f"citylink_tmpl_{digest}"
    if name in _TEMPLATES:
        return name
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        building = f"{name}_{secrets.token_hex(3)}"
        admin.execute(f"CREATE DATABASE {building}")
        open_store(f"{PG_SERVER}/{building}").close()     # migrated as it opens
        try:
            admin.execute(f"ALTER DATABASE {building} RENAME TO {name}")
        except psycopg.errors.DuplicateDatabase:           # another test process made it meanwhile
            admin.execute(f"DROP DATABASE {building}")
    _TEMPLATES[name] = name
    return name


@contextmanager
def restartable(engine: str, data_dir: Path, **settings_kw):
    """A function that starts a platform on one store each time it is called (a restart when called again):
    ``with run(clock) as p`` (the bundled specs) or ``with run(clock, specs_dir) as p``; on ``engine``
    (sqlite, or postgres in a database of its own for the whole test)."""
    @contextmanager
    def run(url, clock, specs_dir=BUNDLED_SPECS):
        p = make_platform(data_dir, clock, **({"store_url": url} if url else {}), **settings_kw)
        p.start(specs_dir=specs_dir, watch=False)
        try:
            yield p
        finally:
            p.stop()
            p.store.close()

    if engine == "sqlite":
        yield lambda clock, specs_dir=BUNDLED_SPECS: run(None, clock, specs_dir)
        return
    with pg_database(migrated=True) as url:
        yield lambda clock, specs_dir=BUNDLED_SPECS: run(url, clock, specs_dir)


@contextmanager
def started_platform(engine: str, data_dir: Path, clock, specs_dir: Path, **settings_kw):
    """A platform on ``engine`` (sqlite, or postgres in a database of its own) with ``specs_dir`` applied,
    stopped afterwards: the fixture of every folder whose tests run on both engines."""
    with restartable(engine, data_dir, **settings_kw) as run, run(clock, specs_dir) as p:
        yield p


@contextmanager
def serving(app):
    """``app`` served by uvicorn on 127.0.0.1 at a free port, in a thread: its base URL (streams and a real
    browser need a real server)."""
    import socket
    import threading

    import uvicorn
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    assert wait_until(lambda: srv.started, 10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        t.join(10)


def wait_ready(http, proc, log_path: Path, timeout: float = 30.0) -> None:
    """Poll ``/readyz`` of a ``citylink serve`` subprocess until it answers 200; fail with its log if it
    exits, or after ``timeout`` seconds."""
    import httpx
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"citylink serve exited:\n{Path(log_path).read_text()}"
        try:
            ready = http.get("/readyz").status_code == 200
        except httpx.TransportError:   # not listening yet
            ready = False
        if ready:
            return
        assert time.monotonic() < deadline, f"citylink serve did not become ready in {timeout:g} s"
        time.sleep(0.1)
