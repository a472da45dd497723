"""The running platform: replay after a spec fix, late data, hot reload of specs, crash recovery."""
from __future__ import annotations

import sqlite3

import pytest

from cltest import (ACME, BRAVO, acme_body, acme_urn, ledger_balances, make_platform, submit_and_wait, wait_until)
from citylink.errors import SpecError, UnknownSource
from citylink.normalize.records import DUPLICATE, QUARANTINED, STORED
from citylink.access import secret_hash
from citylink.platform import Platform

A17 = acme_urn("A-17")


def acme_spec(bins_dir):
    return bins_dir / "sources/bins-acme-http.yaml"


def edit(path, old, new, version=None):
    text = path.read_text()
    assert old in text
    text = text.replace(old, new)
    if version:
        text = text.replace("version: 1.0.0\nvendor", f"version: {version}\nvendor", 1)
    path.write_text(text)


def source_version_id(p, name=ACME):
    return next(r.id for r in p.store.specs_in_force() if r.kind == "source" and r.name == name)


def attr(p, eid, name):
    e = p.store.entity(eid)
    return next((a for a in e.attrs if a.name == name), None) if e else None


# -- replay ----------------------------------------------------------------------------------------

@pytest.fixture
def broken(tmp_path, clock, bins_dir):
    """A platform whose acme spec reads the fill level from the wrong field (``fill`` for ``fill_pct``)."""
    edit(acme_spec(bins_dir), "fillingLevel: {from: fill_pct, unit: P1}", "fillingLevel: {from: fill, unit: P1}")
    p = make_platform(tmp_path / "data", clock)
    p.start(specs_dir=bins_dir, watch=False)
    yield p, bins_dir
    p.stop()


def test_replay_after_a_spec_fix_moves_quarantined_to_stored(broken):
    p, bins_dir = broken
    old_version = source_version_id(p)
    got = submit_and_wait(p, ACME, [acme_body(), acme_body("A-18")])
    assert set(got.values()) == {QUARANTINED}
    q = p.store.quarantined(ACME)
    assert [r["reason"] for r in q] == ["missing_required", "missing_required"]
    assert p.store.ledger()[ACME]["quarantined"] == 2 and p.store.entity(A17) is None

    edit(acme_spec(bins_dir), "fillingLevel: {from: fill, unit: P1}", "fillingLevel: {from: fill_pct, unit: P1}",
         version="1.0.1")
    changed = {(k, n): created for k, n, _, created in p.apply_specs([bins_dir])}
    assert changed[("source", ACME)] is True and changed[("source", BRAVO)] is False
    assert changed[("service", "waste-bins")] is False
    assert p.reload() is True
    new_version = source_version_id(p)
    assert new_version != old_version

    assert p.replay(ACME) == 2
    assert p.bus.drain(10)
    led = p.store.ledger()[ACME]
    assert (led["received"], led["stored"], led["quarantined"], led["pending"]) == (2, 2, 0, 0)
    ledger_balances(p.store.ledger())
    assert p.store.quarantined(ACME) == []
    a = attr(p, A17, "fillingLevel")
    assert a.value_num == pytest.approx(0.73) and a.spec_version == new_version
    t = p.store.temporal(A17, attrs=["fillingLevel"])
    assert [x.spec_version for x in t.attrs] == [new_version]
    ids = list(got)
    assert {rid: v[0] for rid, v in p.store.outcomes(ids).items()} == {i: STORED for i in ids}
    raw = sqlite3.connect(p.store.path).execute(
        "SELECT DISTINCT spec_version FROM observations").fetchall()
    assert raw == [(new_version,)]

    # replaying again changes nothing
    before = p.store.ledger()
    assert p.replay(ACME) == 0
    p.bus.drain(10)
    assert p.store.ledger() == before


def test_replay_everything_is_idempotent(platform):
    submit_and_wait(platform, ACME, [acme_body(), acme_body("A-18"), b"{"])
    before = platform.store.ledger()[ACME]
    for _ in range(2):
        assert platform.replay(ACME, everything=True) == 3
        platform.bus.drain(10)
        assert platform.store.ledger()[ACME] == before
    t = platform.store.temporal(A17)
    assert len([a for a in t.attrs if a.name == "fillingLevel"]) == 1  # no second copy of the values
    ledger_balances(platform.store.ledger())


def test_replay_under_a_stricter_spec_withdraws_stored_values(platform, bins_dir):
    submit_and_wait(platform, ACME, [acme_body(state="2")])
    assert attr(platform, A17, "status").value_json == '"dropped"'
    edit(acme_spec(bins_dir), '"1": lidOpen, "2": dropped, "9": burning}', '"1": lidOpen, "9": burning}', "1.1.0")
    platform.apply_specs([bins_dir])
    platform.reload()
    assert platform.replay(ACME, everything=True) == 1
    platform.bus.drain(10)
    led = platform.store.ledger()[ACME]
    assert (led["received"], led["stored"], led["quarantined"]) == (1, 0, 1)
    assert attr(platform, A17, "status") is None  # what the message produced is gone
    assert platform.store.temporal(A17).attrs == []


def test_replay_of_chosen_messages(broken):
    p, bins_dir = broken
    got = submit_and_wait(p, ACME, [acme_body(), acme_body("A-18")])
    edit(acme_spec(bins_dir), "fillingLevel: {from: fill, unit: P1}", "fillingLevel: {from: fill_pct, unit: P1}", "1.0.1")
    p.apply_specs([bins_dir])
    p.reload()
    first = list(got)[0]
    assert p.replay(None, ids=[first]) == 1
    p.bus.drain(10)
    led = p.store.ledger()[ACME]
    assert (led["stored"], led["quarantined"]) == (1, 1)


# -- late data ---------------------------------------------------------------------------------------

def test_late_data_never_moves_the_current_value_backwards(platform):
    submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:20:00+09:00", fill=30)])
    submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:00:00+09:00", fill=10)])
    a = attr(platform, A17, "fillingLevel")
    assert a.value_num == pytest.approx(0.3) and a.observed_at == 1795652400000000
    # the late value is history, not the present
    t = platform.store.temporal(A17, attrs=["fillingLevel"])
    assert [x.value_num for x in t.attrs] == [pytest.approx(0.1), pytest.approx(0.3)]
    # nor does replaying the old message
    platform.replay(ACME, everything=True)
    platform.bus.drain(10)
    assert attr(platform, A17, "fillingLevel").value_num == pytest.approx(0.3)


def test_late_data_in_one_batch(platform):
    submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:20:00+09:00", fill=30),
                                     acme_body(ts="2026-11-26T09:00:00+09:00", fill=10)])
    assert attr(platform, A17, "fillingLevel").value_num == pytest.approx(0.3)


def test_newer_data_moves_the_current_value_forward(platform):
    submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:00:00+09:00", fill=10)])
    submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:20:00+09:00", fill=30)])
    assert attr(platform, A17, "fillingLevel").value_num == pytest.approx(0.3)


# -- absurd values never break a batch -----------------------------------------------------------------

@pytest.mark.parametrize("t", ["inf", 9223372036854776.0, -1e17, 10 ** 30, 1e300])
def test_absurd_epoch_is_quarantined_and_the_batch_survives(platform, t):
    bad = {"gw": "g", "readings": [{"sn": "B0042", "t": t, "sensors": {"dist_mm": 1, "temp_f": 50},
                                    "batt_mv": 3500, "lid": 0}]}
    import json
    got = submit_and_wait(platform, BRAVO, [json.dumps(bad).encode()])
    assert list(got.values()) == [QUARANTINED]
    got = submit_and_wait(platform, ACME, [acme_body(), json.dumps({"deviceId": "A-18", "ts": t}).encode()])
    assert sorted(got.values()) == [STORED, QUARANTINED]
    ledger_balances(platform.store.ledger())
    assert all(d["pending"] == 0 for d in platform.store.ledger().values())


@pytest.mark.parametrize("compactions", [10 ** 30, "9" * 30, 1e300, -1e20, 2 ** 63])
def test_huge_integer_does_not_poison_the_batch(platform, compactions):
    got = submit_and_wait(platform, ACME, [acme_body(compactions=compactions), acme_body("A-18")])
    assert sorted(got.values()) == [STORED, QUARANTINED]
    assert platform.store.ledger()[ACME]["pending"] == 0


def test_one_failing_message_does_not_keep_its_batch_pending(platform, monkeypatch, caplog):
    """Whatever makes the normalizer or the store raise on one message, the others of its batch go on."""
    norm = platform.normalizer
    real_run = norm.run

    def run(messages, find_dedupe=None):
        if any(b"POISON" in m.body for m in messages):
            raise RuntimeError("boom")
        return real_run(messages, find_dedupe)
    monkeypatch.setattr(norm, "run", run)
    msgs = platform.make_messages(ACME, [(acme_body("A-17"), {}), (acme_body("POISON"), {}), (acme_body("A-18"), {})],
                                  "test")
    platform.store.archive(msgs)
    platform._handle(msgs)  # as the bus delivers a coalesced batch
    outs = platform.store.outcomes([m.id for m in msgs])
    assert [outs[m.id][0] for m in msgs] == [STORED, 0, STORED]  # the bad one stays pending, alone
    led = platform.store.ledger()[ACME]
    assert (led["received"], led["stored"], led["pending"]) == (3, 2, 1)
    ledger_balances(platform.store.ledger())
    assert "retrying them one by one" in caplog.text


# -- duplicates across batches through the store --------------------------------------------------------

def test_redelivery_is_a_duplicate_through_the_store(platform):
    first = submit_and_wait(platform, ACME, [acme_body()])
    again = submit_and_wait(platform, ACME, [acme_body()])
    assert list(first.values()) == [STORED] and list(again.values()) == [DUPLICATE]
    led = platform.store.ledger()[ACME]
    assert (led["received"], led["stored"], led["duplicate"]) == (2, 1, 1)


# -- hot reload ------------------------------------------------------------------------------------------

def test_spec_applied_by_another_platform_is_picked_up_without_restart(tmp_path, clock, bins_dir):
    data = tmp_path / "shared"
    running = make_platform(data, clock, spec_poll_seconds=0.05)
    running.start(specs_dir=bins_dir, watch=True)
    try:
        assert submit_and_wait(running, ACME, [acme_body(compactions=5)])
        assert attr(running, A17, "compactionCount").value_num == 5
        # another process (here: another Platform on the same SQLite file) changes the mapping
        edit(acme_spec(bins_dir), "compactionCount: {from: compactions}", "compactionCount: {from: presses}", "1.1.0")
        other = make_platform(data, clock)
        try:
            applied = other.apply_specs([bins_dir])
        finally:
            other.store.close()
        assert ("source", ACME, "1.1.0", True) in applied
        assert wait_until(lambda: running.specs.sources[ACME].version == "1.1.0", timeout=10)
        submit_and_wait(running, ACME, [acme_body(ts="2026-11-26T09:10:00+09:00", compactions=None, presses=7)])
        assert attr(running, A17, "compactionCount").value_num == 7
    finally:
        running.stop()


def test_device_registry_imported_elsewhere_is_picked_up(tmp_path, clock, bins_dir):
    from citylink.spec.devices import Device
    data = tmp_path / "shared"
    running = make_platform(data, clock, spec_poll_seconds=0.05)
    running.start(specs_dir=bins_dir, watch=True)
    try:
        other = make_platform(data, clock)
        other.store.put_devices(ACME, [Device("A-77", entity_id="bin-77", lon=127.04, lat=37.66)], clock.now_us())
        other.store.close()
        assert wait_until(lambda: "A-77" in running.normalizer.compiled[ACME].devices, timeout=10)
        submit_and_wait(running, ACME, [acme_body("A-77")])
        e = running.store.entity("urn:ngsi-ld:WasteContainer:dobong:bin-77")
        assert e is not None and (e.lon, e.lat) == (127.04, 37.66)
    finally:
        running.stop()


def test_one_changed_source_file_can_be_applied_alone(platform, bins_dir):
    edit(acme_spec(bins_dir), "compactionCount: {from: compactions}", "compactionCount: {from: presses}", "1.0.1")
    applied = platform.apply_specs([acme_spec(bins_dir)])  # its service is in the store already
    assert applied == [("source", ACME, "1.0.1", True)]
    assert platform.reload() is True
    assert platform.specs.sources[ACME].version == "1.0.1"
    assert platform.specs.sources[BRAVO].version == "1.0.0" and "waste-bins" in platform.specs.services


def test_a_service_change_that_breaks_a_source_in_force_is_refused(platform, bins_dir):
    svc = bins_dir / "service.yaml"
    text = svc.read_text()
    start = text.index("      compactionCount:")
    end = text.index("      location:")
    svc.write_text(text[:start] + text[end:])  # acme maps compactionCount
    with pytest.raises(SpecError) as ei:
        platform.apply_specs([svc])
    assert any(p.type == "unknown_attribute" and p.file.endswith("bins-acme-http.yaml") for p in ei.value.problems)
    assert platform.reload() is False


def test_reload_is_a_no_op_without_changes(platform):
    assert platform.reload() is False
    norm = platform.normalizer
    assert platform.reload() is False and platform.normalizer is norm
    assert platform.reload(force=True) is True and platform.normalizer is not norm


def test_apply_specs_refuses_bad_specs_and_keeps_the_old_ones(platform, bins_dir):
    edit(acme_spec(bins_dir), "unit: CEL", "unit: C62", "1.2.0")
    with pytest.raises(SpecError, match="cannot convert C62"):
        platform.apply_specs([bins_dir])
    assert platform.reload() is False
    assert platform.specs.sources[ACME].version == "1.0.0"


# -- recovery, tokens -----------------------------------------------------------------------------------

def test_pending_messages_are_recovered_at_start(tmp_path, clock, bins_dir):
    data = tmp_path / "data"
    first = make_platform(data, clock)
    first.start(specs_dir=bins_dir, watch=False)
    msgs = first.make_messages(ACME, [(acme_body(), {}), (acme_body("A-18"), {})], "test")
    first.store.archive(msgs)  # archived, then the process "crashed" before normalizing
    first.stop()
    second = make_platform(data, clock)
    second.start(watch=False)
    try:
        assert second.bus.drain(10)
        led = second.store.ledger()[ACME]
        assert (led["received"], led["stored"], led["pending"]) == (2, 2, 0)
    finally:
        second.stop()


def test_tokens_are_stored_hashed(platform):
    tok = platform.issue_token(ACME, "acme ops")
    assert tok.startswith("cl_") and len(tok) > 30
    assert platform.authorize(ACME, tok)
    assert not platform.authorize(BRAVO, tok)
    assert not platform.authorize(ACME, None) and not platform.authorize(ACME, "")
    assert platform.store.token_sources(secret_hash(tok)) == {ACME}
    assert platform.store.token_sources(tok) == set()
    with pytest.raises(UnknownSource):
        platform.issue_token("nope")


def test_wait_times_out_for_unknown_ids(platform):
    assert platform.wait([123], 0.05) == {}
    assert isinstance(platform, Platform) and platform.source_names() == [ACME, BRAVO]
