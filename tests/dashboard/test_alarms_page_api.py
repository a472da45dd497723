"""What the alarms page reads of ``/api/alarms`` besides the alarms: whether its reader may act on each one
(``mayAct``) — in the list, one alarm, the answer to an action and the live stream — so that the page offers the
buttons exactly where the API would accept them.  Both store engines (``conftest.py`` ``world``)."""
from __future__ import annotations

import json

import httpx
from fastapi.testclient import TestClient

from cltest import serving
from citylink.alarms import Raise
from citylink.api.app import create_app
from citylink.clock import US

BIN = "urn:ngsi-ld:WasteContainer:dobong:acme:A-92"


def call(world, reader: str, method: str, path: str, **kw) -> httpx.Response:
    with TestClient(create_app(world["platform"])) as c:
        return c.request(method, path, headers={"Authorization": f"Bearer {world['keys'][reader]}"}, **kw)


def listed(world, reader: str, **params) -> dict[str, dict]:
    r = call(world, reader, "GET", "/api/alarms", params={"state": "all", "limit": 1000, **params})
    assert r.status_code == 200, r.text
    return {a["id"]: a for a in r.json()["alarms"]}


def raise_bin(world, rule: str, **kw):
    p = world["platform"]
    return p.alarms.raise_alarm(Raise(f"waste-bins/{rule}", BIN, "WasteContainer", "waste-bins", "sanitation", "low",
                                      p.clock.now_us(), "시험", "test", {}, **kw)).alarm


def test_each_alarm_says_whether_its_reader_may_act_on_it(world):
    mine = listed(world, "sanitation")
    assert mine and all(a["mayAct"] for a in mine.values())             # its own department's
    staff = listed(world, "staff", service="waste-bins")
    assert set(mine) <= set(staff) and not any(a["mayAct"] for a in staff.values())   # reads, may not act
    every = listed(world, "admin")
    assert set(staff) <= set(every) and all(a["mayAct"] for a in every.values())
    welfare = listed(world, "welfare")
    assert {a["service"] for a in welfare.values()} == {"safety-keeper"} and all(a["mayAct"] for a in welfare.values())
    some = next(iter(mine))
    assert call(world, "sanitation", "GET", f"/api/alarms/{some}").json()["mayAct"] is True
    one = call(world, "staff", "GET", f"/api/alarms/{some}").json()
    assert one["mayAct"] is False and one["history"]
    # what the page offers is what the API accepts
    assert call(world, "staff", "POST", f"/api/alarms/{some}/acknowledge").status_code == 403


def test_a_department_told_by_an_escalation_may_act_and_the_answer_to_an_action_says_so(world):
    p = world["platform"]
    a = raise_bin(world, "page-escalates", escalate_after_us=60 * US, escalate_department="welfare-mobility")
    assert call(world, "parking", "GET", f"/api/alarms/{a.id}").status_code == 404   # not told yet
    assert p.alarms.process_due(a.escalation_due) >= 1
    assert listed(world, "parking")[a.id]["mayAct"] is True
    r = call(world, "parking", "POST", f"/api/alarms/{a.id}/acknowledge", json={"comment": "on it"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["mayAct"]) == ("acknowledged", True)


def test_the_live_stream_says_it_to_each_reader(world):
    p = world["platform"]
    with serving(create_app(p)) as url:
        for reader, may in (("staff", False), ("sanitation", True)):
            raised = got = None
            with httpx.stream("GET", url + "/api/alarms/stream", timeout=10,
                              headers={"Authorization": f"Bearer {world['keys'][reader]}"}) as r:
                kind = None
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and kind == "hello":   # listening: raise one now
                        raised = raise_bin(world, f"page-stream-{reader}")
                    elif line.startswith("data:") and kind == "raised":
                        e = json.loads(line.split(":", 1)[1])
                        if e["alarm"]["id"] == raised.id:
                            got = e["alarm"]["mayAct"]
                            break
            assert got is may, reader
