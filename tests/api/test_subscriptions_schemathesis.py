"""schemathesis over the subscription routes with every request let through (``insecure_no_auth``), so
the generated bodies reach the handlers rather than stopping at the admin key: none may answer 5xx."""
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
    p = make_platform(Path(tempfile.mkdtemp()) / "data", insecure_no_auth=True)
    p.start(specs_dir=BUNDLED_SPECS, watch=False)
    atexit.register(p.stop)
    submit_and_wait(p, ACME, [acme_body()])
    return create_app(p)


schema = schemathesis.openapi.from_asgi("/openapi.json", app()).include(path_regex="/subscriptions")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_subscription_request_makes_a_server_error(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
