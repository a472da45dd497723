"""schemathesis generates requests from the OpenAPI description (a bounded number per operation):
none may answer 5xx.  Bad input is a 4xx with a problem detail, never a crash.  Requests carry the
admin key, so that the writes are exercised beyond the key check."""
from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from cltest import ACME, acme_body, make_platform, submit_and_wait
from citylink.api.app import create_app
from citylink.config import BUNDLED_SPECS


def app():
    """The shipped specs and two bins, for schemathesis to load at import (it needs the app then)."""
    p = make_platform(Path(tempfile.mkdtemp()) / "data")
    p.start(specs_dir=BUNDLED_SPECS, watch=False)
    atexit.register(p.stop)
    submit_and_wait(p, ACME, [acme_body(), acme_body("A-18", fill=90)])
    KEY.append(p.settings.resolved_admin_key())
    return create_app(p)


KEY: list[str] = []
schema = schemathesis.openapi.from_asgi("/openapi.json", app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case):
    response = case.call(headers={"Authorization": f"Bearer {KEY[0]}"})  # the admin's: writes too get through
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text[:500])
