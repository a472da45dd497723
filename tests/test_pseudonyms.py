"""Pseudonyms are stable under one key: the same plate gives the same pseudonym in every message, on every
bay and after a restart, so a department can still join a vehicle's events; under another key it gives
another (the key is the deployment's secret, in the data directory or CITYLINK_PSEUDONYM_KEY)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cltest import NOW, manual_clock, started_platform, submit_and_wait
from citylink.config import BUNDLED_SPECS

PARKING, PLATE = "dparking-vision-http", "12가3456"


def park(p, bay: str, plate: str, event: str) -> None:
    body = dict(p.specs.sources[PARKING].payload["example"], bay=bay, plate=plate, eventId=event)
    assert set(submit_and_wait(p, PARKING, [json.dumps(body, ensure_ascii=False).encode()]).values()) <= {1, 2}


def plates(p, viewer_key: str, plate_pz: str | None = None) -> dict[str, str]:
    from fastapi.testclient import TestClient

    from citylink.api.app import create_app
    with TestClient(create_app(p)) as c:
        c.headers["Authorization"] = f"Bearer {viewer_key}"
        params = {"type": "ParkingSpot", "options": "keyValues"}
        if plate_pz:
            params["q"] = f'vehiclePlate=="{plate_pz}"'
        r = c.get("/ngsi-ld/v1/entities", params=params)
        assert r.status_code == 200, r.text
        return {e["id"].rsplit("-", 1)[-1]: e.get("vehiclePlate") for e in r.json()}


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_one_plate_one_pseudonym_across_bays_so_a_department_can_join(engine, tmp_path):
    with started_platform(engine, tmp_path / "data", manual_clock(), BUNDLED_SPECS) as p:
        _, key = p.issue_api_key("enforcement", "welfare-mobility")
        park(p, "DB-ST-014", PLATE, "E-1")
        park(p, "DB-ST-015", f" {PLATE} ", "E-2")     # spacing as a second camera writes it
        park(p, "DB-ST-016", "34나5678", "E-3")
        seen = plates(p, key)
        assert seen["014"] == seen["015"] != seen["016"]
        assert PLATE not in seen.values() and seen["014"].startswith("pz:")
        # the join a department makes: every bay this vehicle used
        assert set(plates(p, key, seen["014"])) == {"014", "015"}


def test_the_key_and_so_the_pseudonyms_survive_a_restart_and_differ_between_deployments(tmp_path):
    data = tmp_path / "data"
    pseudonyms = []
    for n, run_dir in enumerate((data, data, tmp_path / "other")):    # a restart, then another deployment
        clock = manual_clock(NOW + timedelta(minutes=n))   # raw ids come from the clock: a later start
        with started_platform("sqlite", run_dir, clock, BUNDLED_SPECS, pseudonym_key=None) as p:
            _, key = p.issue_api_key("enforcement", "welfare-mobility")
            park(p, "DB-ST-014", PLATE, f"E-{n}")
            pseudonyms.append(plates(p, key)["014"])
    assert pseudonyms[0] == pseudonyms[1] != pseudonyms[2]
    assert all(x.startswith("pz:") for x in pseudonyms)
