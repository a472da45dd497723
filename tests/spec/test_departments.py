"""``departments/1``: the district's departments as data — checked like a spec, versioned like one, and the
owners every service must name once they are written down."""
from __future__ import annotations

import pytest

from cltest import AIR_SERVICE, air_source, line_of, make_platform, spec_dir
from citylink.config import BUNDLED_SPECS
from citylink.errors import SpecError
from citylink.spec.loader import load_paths

DEPARTMENTS = """\
citylink: departments/1
id: test-district
version: 1.0.0
departments:
  environment:
    name: {ko: 환경과, en: Environment}
    contacts:
      - {name: 대기 담당 창구, email: air@example.org, phone: "+82-2-000-0000"}
    notify:
      email: [air-alarms@example.org]
      webhooks:
        - {url: "https://env.example.org/hook", secret_env: ENV_HOOK_SECRET}
"""


def test_the_shipped_departments_own_every_shipped_service():
    specs = load_paths([BUNDLED_SPECS])
    assert set(specs.departments) >= {svc.department for svc in specs.services.values()}
    welfare = specs.departments["welfare"]
    assert welfare.name.ko == "복지정책과" and welfare.emails and welfare.contacts
    assert all("secret" not in str(h).lower() or "secret_env" in h for h in welfare.webhooks)


def test_departments_are_read(tmp_path):
    specs = load_paths([spec_dir(tmp_path / "specs", {"departments.yaml": DEPARTMENTS, "service.yaml": AIR_SERVICE,
                                                      "src.yaml": air_source()})])
    env = specs.departments["environment"]
    assert env.name.en == "Environment" and env.emails == ("air-alarms@example.org",)
    assert env.webhooks == ({"url": "https://env.example.org/hook", "secret_env": "ENV_HOOK_SECRET"},)


def test_without_a_departments_document_the_owners_are_the_departments(tmp_path):
    specs = load_paths([spec_dir(tmp_path / "specs", {"service.yaml": AIR_SERVICE, "src.yaml": air_source()})])
    assert list(specs.departments) == ["environment"]


def test_a_service_of_an_undeclared_department_is_refused_at_its_line(tmp_path):
    service = AIR_SERVICE.replace("department: environment", "department: enviroment")
    d = spec_dir(tmp_path / "specs", {"departments.yaml": DEPARTMENTS, "service.yaml": service,
                                      "src.yaml": air_source()})
    with pytest.raises(SpecError) as ei:
        load_paths([d])
    (p,) = ei.value.problems
    assert p.type == "unknown_department" and p.file == str(d / "service.yaml")
    assert p.line == line_of(service, "department:") and "'enviroment'" in p.msg and "environment" in p.msg


@pytest.mark.parametrize("change, path, fragment", [
    ("    name: {ko: 환경과, en: Environment}\n", "departments.environment", "missing required key: 'name'"),
    ("email: air@example.org", "departments.environment.contacts.0.email", "does not match"),
    ("secret_env: ENV_HOOK_SECRET", "departments.environment.notify.webhooks.0.secret", "unknown key 'secret'"),
])
def test_bad_departments_name_the_line(tmp_path, change, path, fragment):
    bad = {"    name: {ko: 환경과, en: Environment}\n": "",
           "email: air@example.org": "email: not-an-address",
           "secret_env: ENV_HOOK_SECRET": "secret: hunter22"}[change]
    text = DEPARTMENTS.replace(change, bad)
    d = spec_dir(tmp_path / "specs", {"departments.yaml": text, "service.yaml": AIR_SERVICE, "src.yaml": air_source()})
    with pytest.raises(SpecError) as ei:
        load_paths([d])
    (p,) = ei.value.problems
    assert p.file == str(d / "departments.yaml") and p.path == path and fragment in p.msg, str(p)
    assert p.line is not None


def test_departments_are_applied_and_versioned_like_specs(tmp_path):
    d = spec_dir(tmp_path / "specs", {"departments.yaml": DEPARTMENTS, "service.yaml": AIR_SERVICE,
                                      "src.yaml": air_source()})
    p = make_platform(tmp_path / "data")
    try:
        applied = p.apply_specs([d])
        assert ("departments", "test-district", "1.0.0", True) in applied
        p.reload(force=True)
        assert list(p.specs.departments) == ["environment"]
        # an account or a key reads for a declared department only
        with pytest.raises(Exception, match="department: 'parks' is not a department"):
            p.add_user("kim", "Kim", "parks")
    finally:
        p.store.close()
