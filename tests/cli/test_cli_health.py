"""``citylink health``: the devices' and sources' health, filtered; bad options named."""
from __future__ import annotations


def test_health_lists_registry_devices_never_heard_of_and_filters(run, bins_dir):
    run("spec", "apply", bins_dir)
    out = run("health").stdout
    assert "never_reported" in out and "never_received" in out and "bins-acme-http" in out
    out = run("health", "--state", "offline").stdout
    assert "never_reported" not in out
    r = run("health", "--state", "asleep", code=2)
    assert "--state: 'asleep'" in r.stderr
    r = run("health", "--service", "nope", code=2)
    assert "--service: 'nope'" in r.stderr
