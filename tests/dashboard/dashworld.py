"""What the dashboard's tests feed a platform with: every source's example payload and a few messages whose
figures the tests know (``conftest.py`` builds its platforms with it; so does ``test_browser.py``)."""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

from cltest import acme_body, submit_and_wait
from citylink.spec.doc import example_payload

# just after the newest example (the snow box's, 06:00Z): every example is on time or late, none in the future
NOW = datetime(2026, 11, 26, 6, 30, tzinfo=timezone.utc)
KST = timezone(timedelta(hours=9))
ACME, CHEONHA = "bins-acme-http", "crosswalk-cheonha-mqtt"
# bins of the ACME vendor sent now: fill level in percent (the examples add bins of their own)
FILLS = {"A-90": 85, "A-91": 97, "A-92": 40}
# crosswalk counts in the last hour: peopleCount = waiting + crossing
CROSSINGS = [(10, 12, 20), (20, 5, 7)]              # (minutes ago, waiting, crossing)
PEDESTRIANS = sum(w + c for _, w, c in CROSSINGS)
KEYS = {"sanitation": {"department": "sanitation"}, "welfare": {"department": "welfare"},
        "parking": {"department": "welfare-mobility"}, "staff": {"scopes": ["staff"]},
        "public-key": {"scopes": ["public"]}}
# staff accounts the browser tests sign in with (login → department, scopes); one password, made per run
USERS = {"kim.sanitation": ("sanitation", ()), "lee.welfare": ("welfare", ()), "park.parking": ("welfare-mobility", ()),
         "choi.staff": (None, ("staff",)), "han.admin": (None, ("admin",))}
PASSWORD = secrets.token_urlsafe(16)


def add_users(p) -> None:
    for login, (department, scopes) in USERS.items():
        p.add_user(login, login.split(".")[0].capitalize(), department, scopes, PASSWORD)


def feed(p) -> None:
    """Every source's example, as its vendor would send it, and the messages the tests count on."""
    for sid in sorted(p.specs.sources):
        submit_and_wait(p, sid, [example_payload(p.specs.sources[sid])[2]])
    ts = (NOW - timedelta(minutes=5)).astimezone(KST).isoformat()
    submit_and_wait(p, ACME, [acme_body(d, ts=ts, fill=f) for d, f in FILLS.items()])
    submit_and_wait(p, ACME, [b'{"deviceId": "A-93", "fill_pct": '])          # cut short: quarantined
    site = json.loads(example_payload(p.specs.sources[CHEONHA])[2])
    submit_and_wait(p, CHEONHA, [json.dumps(dict(site, t=int((NOW - timedelta(minutes=m)).timestamp()),
                                                 counts=dict(site["counts"], waiting=w, crossing=c))).encode()
                                 for m, w, c in CROSSINGS])
