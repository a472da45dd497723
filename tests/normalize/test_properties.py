"""Property-based: whatever bytes arrive, the normalizer never raises, every message ends as exactly one
outcome, and the store's ledger balances: received = stored + stored_flagged + duplicate + quarantined
(+ pending, which is 0 once the batch is applied).

Inputs start from each shipped source's ``payload.example`` and are mutated: keys dropped, values replaced
by random JSON (text, NaN-ish strings, big numbers, nested objects, lists, null), random bytes, truncated
JSON, non-UTF-8 bytes.
"""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cltest import ledger_balances, make_platform, manual_clock, normalizer, outcomes
from citylink.config import BUNDLED_SPECS
from citylink.normalize.records import OUTCOME_NAMES, RawMessage
from citylink.spec.devices import load_registry
from citylink.spec.loader import load_paths
from citylink.spec.model import API_SOURCE

SPECS = load_paths([BUNDLED_SPECS])
SOURCES = sorted(SPECS.sources)


def _registries():
    out = {}
    for sid, src in SPECS.sources.items():
        if src.devices:
            out[sid] = load_registry(Path(src.origin.file).parent / src.devices)
    return out


REGISTRIES = _registries()
EXAMPLES = {sid: src.payload["example"] for sid, src in SPECS.sources.items()}
ENCODING = {sid: src.payload.get("encoding", "utf-8") for sid, src in SPECS.sources.items()}


NAN_ISH = st.sampled_from(["NaN", "nan", "-NaN", "Infinity", "-Infinity", "inf", "1e400", "-1e400", "", " ", "N/A",
                           "NA", "-", "-999", " 12 ", "0x1A", "１２", "1,5", "12.5.1", "true", "null", "None",
                           "9e99", "1" + "0" * 25, "-" + "9" * 40, "2026-11-26T09:00:00+09:00", "2026-13-45T25:61:00",
                           "24:00", "\x00", "\ud7a3", "🚮"])
TEXT = st.text(max_size=16) | NAN_ISH
NUMBERS = (st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([0, -0.0, 2 ** 53, -(2 ** 63), 2 ** 63, 2 ** 64, 10 ** 300, 1e300, -1e300, 5e-324,
                              0.1 + 0.2, 1795651200000, 1795651200, 10 ** 400]))
# extreme values a buggy sensor or gateway sends in place of a reading
EXTREME = st.sampled_from([2 ** 63, 2 ** 63 - 1, -(2 ** 63) - 1, 2 ** 64, 10 ** 30, -(10 ** 30), 10 ** 300, 1e308,
                           -1e308, 1.7976931348623157e308, 5e-324, -0.0, 1e-300, 4.9e15, 9007199254740993,
                           10 ** 400, -(10 ** 400)])
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON_VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=8)


_nonce = iter(range(10 ** 12))


def _dumps(doc) -> bytes:
    """JSON as a vendor may write it: integers of any size (orjson stops at 64 bits)."""
    return json.dumps(doc, ensure_ascii=False).encode()


def _paths(node, prefix=()):
    """Every (path) to a value inside nested dicts / lists."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out += _paths(v, prefix + (i,))
    return out


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def _set(node, path, value=None, drop=False):
    *head, last = path
    for p in head:
        node = node[p]
    if drop:
        del node[last]
    else:
        node[last] = value


@st.composite
def mutated_json(draw, example):
    doc = json.loads(json.dumps(example))  # a deep copy
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3, 4]))):
        paths = _paths(doc)
        if not paths:
            break
        numeric = [p for p in paths if isinstance(_get(doc, p), (int, float)) and not isinstance(_get(doc, p), bool)]
        if numeric and draw(st.booleans()):  # a reading out of this world
            _set(doc, draw(st.sampled_from(numeric)), draw(st.one_of(EXTREME, st.one_of(NUMBERS, NAN_ISH))))
            continue
        path = draw(st.sampled_from(paths))
        if draw(st.integers(0, 3)) == 0:
            _set(doc, path, drop=True)
        else:  # mostly a scalar, as a vendor's bug would send; sometimes anything
            _set(doc, path, draw(st.one_of(NUMBERS, NAN_ISH, TEXT, JSON_VALUES)))
    if draw(st.integers(0, 5)) == 0 and isinstance(doc, dict):
        doc[draw(st.text(max_size=6))] = draw(JSON_VALUES)
    if isinstance(doc, dict) and draw(st.booleans()):
        doc["_nonce"] = next(_nonce)  # other bytes: not a duplicate of an earlier example (unless dedupe paths say so)
    return _dumps(doc)


@st.composite
def mutated_csv(draw, example: str):
    lines = example.splitlines()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        cells = lines[i].split(",")
        j = draw(st.integers(0, len(cells) - 1))
        choice = draw(st.integers(0, 3))
        if choice == 0 and len(lines) > 1:
            del lines[i]
            continue
        if choice == 1:
            del cells[j]
        else:
            cells[j] = draw(TEXT | st.sampled_from(['"a,b"', '"open', 'x"y', '"multi\nline"', ""]))
        lines[i] = ",".join(cells)
    return ("\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))).encode()


@st.composite
def message_body(draw, source):
    ex = EXAMPLES[source]
    base = ex.encode(ENCODING[source]) if isinstance(ex, str) else orjson.dumps(ex)
    kind = draw(st.integers(0, 9))
    if kind <= 4:  # a mutated example
        return draw(mutated_csv(ex)) if isinstance(ex, str) else draw(mutated_json(ex))
    if kind == 5:  # truncated
        return base[:draw(st.integers(0, max(len(base) - 1, 0)))]
    if kind == 6:  # random bytes
        return draw(st.binary(max_size=64))
    if kind == 7:  # not UTF-8: a byte that never is, or the text in another encoding
        text = base.decode("utf-8", "replace")
        if draw(st.booleans()):
            i = draw(st.integers(0, len(base)))
            return base[:i] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x81"])) + base[i:]
        return text.encode(draw(st.sampled_from(["utf-16", "latin-1", "cp949"])), "replace")
    if kind == 8:  # any JSON at all
        return _dumps(draw(JSON_VALUES))
    if isinstance(ex, dict) and draw(st.booleans()):
        return orjson.dumps(dict(ex, _nonce=next(_nonce)))
    return base  # the example itself (and so duplicates)


@st.composite
def batches(draw):
    out = []
    for _ in range(draw(st.integers(1, 6))):
        source = draw(st.sampled_from(SOURCES))
        out.append((source, draw(message_body(source))))
    return out


PROPS = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                        HealthCheck.data_too_large])

_ids = iter(range(1, 10 ** 9))


@PROPS
@given(batches())
def test_normalizer_never_raises_and_gives_one_outcome_each(batch):
    norm = normalizer(SPECS, manual_clock(), REGISTRIES)
    clock = norm.clock
    msgs = [RawMessage(next(_ids), s, clock.now_us(), b, "test") for s, b in batch]
    result = norm.run(msgs)
    got = outcomes(result)  # asserts no message has two
    assert len(result.outcomes) == len(msgs) and set(got) == {m.id for m in msgs}
    quarantined = {rid for rid, _, probs in result.quarantine}
    assert quarantined == {rid for rid, name in got.items() if name == "quarantined"}
    for rid, _, probs in result.quarantine:
        assert probs and all(p["type"] and p["detail"] for p in probs)
        json.dumps(probs)  # problems are JSON as they are
    stored = {rid for rid, name in got.items() if name.startswith("stored")}
    assert {o[0] for o in result.observations} <= stored
    for o in result.observations:
        assert o[4] is None or math.isfinite(o[4])
        assert o[5] is None or json.loads(o[5]) is not None or o[5] == "null"
        assert o[1].startswith("urn:ngsi-ld:")


@pytest.fixture(scope="module")
def store_platform():
    with tempfile.TemporaryDirectory() as tmp:
        p = make_platform(Path(tmp), manual_clock())
        p.start(specs_dir=BUNDLED_SPECS, watch=False)
        yield p
        p.stop()


@PROPS
@given(batch=batches(), replay=st.booleans())
def test_store_ledger_balances_for_every_batch(store_platform, batch, replay):
    p = store_platform
    before = p.store.ledger()
    msgs = []
    for source, body in batch:
        msgs += p.make_messages(source, [(body, {})], "http_push")
    p.store.archive(msgs)
    result = p.normalizer.run(msgs, p.store.find_dedupe)
    got = outcomes(result)
    assert len(got) == len(msgs)
    for name in got.values():
        event(f"outcome: {name}")
    p.store.apply(result, p.clock.now_us())  # what Platform._handle does
    p.normalizer.confirm(result)

    after = p.store.ledger()
    ledger_balances(after)
    for source in {m.source for m in msgs}:
        d = after[source]
        assert d["pending"] == 0, (source, d)
        prev = before.get(source, {})
        assert d["received"] - prev.get("received", 0) == sum(1 for m in msgs if m.source == source)
        for name in ("stored", "stored_flagged", "duplicate", "quarantined"):
            delta = d[name] - prev.get(name, 0)
            assert delta == sum(1 for m in msgs if m.source == source and got[m.id] == name), (source, name)
    stored = p.store.outcomes([m.id for m in msgs])
    assert {rid: OUTCOME_NAMES[v[0]] for rid, v in stored.items()} == got

    if replay:  # re-running the same messages (through the bus, as `citylink replay --all` does) keeps it so
        assert p.replay(None, ids=[m.id for m in msgs]) == len(msgs)
        assert p.bus.drain(30) and p.rules.wait_idle() and p.bus.drain(30)
        again = p.store.ledger()
        ledger_balances(again)
        assert all(again[s]["pending"] == 0 for s in again)
        # (the replayed values may raise alarms, written as the platform's own API writes: not the vendors')
        assert {s: again[s]["received"] for s in again if s != API_SOURCE} == \
            {s: after[s]["received"] for s in after if s != API_SOURCE}


@PROPS
@given(batches())
def test_the_fast_path_decides_exactly_as_the_general_path(batch):
    """Flat JSON feeds take a shortcut for clean messages (compiler._fast_path); on any input the
    result must be the one the general path gives."""
    fast = normalizer(SPECS, manual_clock(), REGISTRIES)
    general = normalizer(SPECS, manual_clock(), REGISTRIES)
    assert any(cs.fast is not None for cs in fast.compiled.values())  # the shipped specs use it
    for cs in general.compiled.values():
        cs.fast = None
    now = fast.clock.now_us()
    ids = [next(_ids) for _ in batch]
    a = fast.run([RawMessage(i, s, now, b, "test") for i, (s, b) in zip(ids, batch)])
    b = general.run([RawMessage(i, s, now, b, "test") for i, (s, b) in zip(ids, batch)])
    assert a.outcomes == b.outcomes
    assert a.observations == b.observations
    # compared as JSON: a NaN inside a problem's value is not == itself
    assert json.dumps(a.quarantine, default=repr) == json.dumps(b.quarantine, default=repr)
    assert a.entities == b.entities
