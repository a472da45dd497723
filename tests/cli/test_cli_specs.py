"""``citylink spec check|apply|list`` and ``citylink check-feed``."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone

import pytest

from cltest import ACME, AIR_SERVICE, BRAVO, air_source, line_of, spec_dir, write
from citylink import cli
from citylink.errors import SpecError


def now_kst(minutes_ago: int = 1) -> str:
    t = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return t.astimezone(timezone(timedelta(hours=9))).isoformat(timespec="seconds")


# -- spec check -------------------------------------------------------------------------------------

def test_spec_check_shipped(run):
    r = run("spec", "check")
    assert r.stdout.startswith("ok: ") and "services" in r.stdout and r.stderr == ""


def test_spec_check_ok_dir(run, bins_dir):
    assert run("spec", "check", bins_dir).stdout.strip() == "ok: 1 services, 2 sources"


def test_spec_check_bad_dir_prints_every_problem_and_exits_1(run, tmp_path):
    src_a = air_source("air-a") + "colour: red\n"
    src_b = air_source("air-b").replace("service: air", "service: water")
    d = spec_dir(tmp_path / "bad", {"service.yaml": AIR_SERVICE, "a.yaml": src_a, "b.yaml": src_b})
    r = run("spec", "check", d, code=1)
    lines = r.stderr.splitlines()
    assert lines == [f"{d / 'a.yaml'}:{line_of(src_a, 'colour')}: colour: unknown key 'colour'",
                     f"{d / 'b.yaml'}:{line_of(src_b, 'water')}: service: no service 'water' (known: air)"]
    assert "ok:" not in r.stdout


def test_spec_check_long_problem_stays_on_one_line(run, tmp_path):
    svc = AIR_SERVICE.replace("temperature: {type: Number, unit: CEL,", "temperature: {type: Number, unit: XYZ,")
    d = spec_dir(tmp_path / "bad", {"service.yaml": svc, "a.yaml": air_source()})
    from typer.testing import CliRunner
    r = CliRunner().invoke(cli.app, ["spec", "check", str(d)])  # without the wide console of the fixture
    assert r.exit_code == 1
    [line] = r.stderr.splitlines()
    assert line.startswith(f"{d / 'service.yaml'}:{line_of(svc, 'XYZ')}: "
                           "entity_types.AirQualityObserved.attributes.temperature.unit: unknown unit 'XYZ'")


def test_spec_check_missing_registry(run, bins_dir):
    (bins_dir / "devices/bins-acme-http.csv").unlink()
    r = run("spec", "check", bins_dir, code=1)
    assert "devices: no registry file ../devices/bins-acme-http.csv" in r.stderr


def test_spec_check_bad_registry(run, bins_dir):
    write(bins_dir / "devices/bins-acme-http.csv", "local_id,lon,lat\nA-17,1,2\nA-17,1,2\n")
    r = run("spec", "check", bins_dir, code=1)
    assert f"bins-acme-http.csv:3: local_id: device 'A-17' is listed twice" in r.stderr


# -- spec apply / list ---------------------------------------------------------------------------------

def test_spec_apply_new_then_unchanged_then_new_version(run, bins_dir):
    r = run("spec", "apply", bins_dir)
    assert r.stdout.count("new version") == 3 and "unchanged" not in r.stdout
    r = run("spec", "apply", bins_dir)
    assert r.stdout.count("unchanged") == 3 and "new version" not in r.stdout
    f = bins_dir / "sources/bins-acme-http.yaml"
    f.write_text(f.read_text().replace("version: 1.0.0\nvendor", "version: 1.1.0\nvendor"))
    r = run("spec", "apply", bins_dir)
    acme_line = next(ln for ln in r.stdout.splitlines() if ACME in ln)
    assert "1.1.0" in acme_line and "new version" in acme_line
    assert r.stdout.count("unchanged") == 2
    r = run("spec", "list")
    rows = [ln for ln in r.stdout.splitlines() if "waste-bins" in ln or "bins-" in ln]
    assert len(rows) == 3
    assert "1.1.0" in next(ln for ln in rows if ACME in ln)
    assert "1.0.0" in next(ln for ln in rows if BRAVO in ln)


def test_spec_apply_refuses_bad_specs(run, tmp_path):
    d = spec_dir(tmp_path / "bad", {"service.yaml": AIR_SERVICE, "a.yaml": air_source() + "colour: red\n"})
    r = run("spec", "apply", d, code=1)
    assert isinstance(r.exception, SpecError)  # main() prints it as file:line: path: message
    assert "spec_versions" not in r.stdout
    assert "air" not in run("spec", "list").stdout


def test_main_prints_spec_errors_one_per_line(tmp_path, monkeypatch, capsys):
    bad = air_source() + "colour: red\n"
    d = spec_dir(tmp_path / "bad", {"service.yaml": AIR_SERVICE, "a.yaml": bad})
    monkeypatch.setattr(sys, "argv", ["citylink", "--data-dir", str(tmp_path / "data"), "spec", "apply", str(d)])
    with pytest.raises(SystemExit) as ei:
        cli.main()
    assert ei.value.code == 1
    assert capsys.readouterr().err.strip() == f"{d / 'a.yaml'}:{line_of(bad, 'colour')}: colour: unknown key 'colour'"


def test_main_prints_config_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CITYLINK_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.setattr(sys, "argv", ["citylink", "spec", "list"])
    with pytest.raises(SystemExit) as ei:
        cli.main()
    assert ei.value.code == 1
    assert "missing.toml" in capsys.readouterr().err


# -- check-feed ---------------------------------------------------------------------------------------

def test_check_feed_good_sample(run, bins_dir, tmp_path):
    sample = write(tmp_path / "good.json", json.dumps(
        [{"deviceId": "A-17", "ts": now_kst(), "fill_pct": 73, "temp_c": 12.5, "state": "1"},
         {"deviceId": "A-18", "ts": now_kst(2), "fill_pct": 40}]))
    r = run("check-feed", sample, "--source", ACME, "--specs", bins_dir)
    assert "2 messages: 2 would be stored, 0 quarantined" in r.stdout
    assert "urn:ngsi-ld:WasteContainer:dobong:acme:A-17" in r.stdout and "lidOpen" in r.stdout


def test_check_feed_bad_sample(run, bins_dir, tmp_path):
    sample = write(tmp_path / "bad.json", json.dumps(
        [{"deviceId": "A-17", "ts": now_kst(), "fill_pct": 73},
         {"deviceId": "A-17", "ts": now_kst(), "temp_c": 1}]))
    r = run("check-feed", sample, "--source", ACME, "--specs", bins_dir, code=1)
    assert "missing_required" in r.stdout and "fillingLevel" in r.stdout
    assert "2 messages: 1 would be stored, 1 quarantined" in r.stdout


def test_check_feed_json(run, bins_dir, tmp_path):
    sample = write(tmp_path / "s.json", json.dumps({"deviceId": "A-17", "ts": now_kst(), "fill_pct": "lots"}))
    r = run("check-feed", sample, "--source", ACME, "--specs", bins_dir, "--json", code=1)
    [report] = json.loads(r.stdout)
    assert report["outcome"] == "quarantined"
    assert report["problems"][0]["type"] == "wrong_type" and report["problems"][0]["field"] == "fillingLevel"
    good = write(tmp_path / "g.json", json.dumps({"deviceId": "A-17", "ts": now_kst(), "fill_pct": 50}))
    [report] = json.loads(run("check-feed", good, "--source", ACME, "--specs", bins_dir, "--json").stdout)
    assert report["outcome"] == "stored"
    assert {v["attribute"]: v["value"] for v in report["values"]} == {"fillingLevel": 0.5}


def test_check_feed_uses_the_registry_next_to_the_spec(run, bins_dir, tmp_path):
    ts = int((datetime.now(timezone.utc) - timedelta(minutes=1)).timestamp() * 1000)
    sample = write(tmp_path / "b.json", json.dumps(
        {"gw": "g", "readings": [{"sn": "B0042", "t": ts, "sensors": {"dist_mm": 420, "temp_f": 50}, "batt_mv": 3600,
                                  "lid": 0}]}))
    r = run("check-feed", sample, "--source", BRAVO, "--specs", bins_dir, "--json")
    [report] = json.loads(r.stdout)
    vals = {v["attribute"]: v["value"] for v in report["values"]}
    assert vals["fillingLevel"] == pytest.approx(0.65)


def test_check_feed_unknown_source(run, bins_dir, tmp_path):
    sample = write(tmp_path / "s.json", "{}")
    r = run("check-feed", sample, "--source", "nope", "--specs", bins_dir, code=1)
    assert "nope" in str(r.exception)
