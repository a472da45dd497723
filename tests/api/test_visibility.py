"""What a reader without a key sees, and what the admin key sees, on every read of the NGSI-LD API: the
visibility the shipped service specs declare (citylink.access), on both store engines.

The specs: waste-bins is public but for batteryLevel and compactionCount (internal); disabled-parking is
internal but for status and category (public), and the plate is personal and restricted; safety-keeper is
restricted throughout."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cltest import ACME, acme_body, acme_urn, started_platform, submit_and_wait, submit_examples
from citylink.api.app import create_app
from citylink.config import BUNDLED_SPECS

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
A17 = acme_urn("A-17")
PARKING, HOMES = "dparking-vision-http", "safety-keeper-carelink-http"
PLATE, HOUSEHOLD = "12가3456", "DB-WF-2210"   # what the vendors send (examples in their source specs)


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, tmp_path, clock):
    with started_platform(request.param, tmp_path / "data", clock, BUNDLED_SPECS) as p:
        assert set(submit_and_wait(p, ACME, [acme_body(ts="2026-11-26T09:00:00+09:00", fill=30, battery=40)])
                   .values()) == {1}
        submit_examples(p, PARKING, HOMES)   # stored (or flagged: the bay has no valid permit; kept all the same)
        yield p


def get(client, url, status=200, **kw):
    r = client.get(url, **kw)
    assert r.status_code == status, r.text
    return r


def one_id(admin, type_name: str) -> str:
    (e,) = get(admin, f"/ngsi-ld/v1/entities?type={type_name}").json()
    return e["id"]


def test_an_entity_shows_the_public_only_its_public_attributes(public, admin):
    e = get(public, f"/ngsi-ld/v1/entities/{A17}").json()
    assert e["fillingLevel"]["value"] == 0.3 and "location" in e
    assert "batteryLevel" not in e and "compactionCount" not in e
    assert get(admin, f"/ngsi-ld/v1/entities/{A17}").json()["batteryLevel"]["value"] == 0.4

    bay = one_id(admin, "ParkingSpot")
    shown = get(public, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()
    assert shown == {"id": bay, "type": "ParkingSpot", "status": "occupied", "category": "forDisabled"}
    full = get(admin, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()
    assert {"vehiclePlate", "permitValid", "eventRef", "location"} <= set(full)
    assert full["vehiclePlate"] != PLATE   # pseudonymised before it was stored

    home = one_id(admin, "HomeSafetySensor")
    body = get(public, f"/ngsi-ld/v1/entities/{home}", 404).json()   # not 403: that would tell it exists
    assert body["type"] == ERR + "ResourceNotFound"
    assert get(public, "/ngsi-ld/v1/entities/urn:ngsi-ld:HomeSafetySensor:nothing", 404).json() == \
        {**body, "detail": body["detail"].replace(home, "urn:ngsi-ld:HomeSafetySensor:nothing")}


def test_queries_find_only_what_the_public_may_see(public, admin):
    bay, home = one_id(admin, "ParkingSpot"), one_id(admin, "HomeSafetySensor")
    plate = get(admin, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()["vehiclePlate"]

    def ids(client, query, count=None):
        r = get(client, "/ngsi-ld/v1/entities?" + query + ("&count=true" if count is not None else ""))
        if count is not None:
            assert r.headers["NGSILD-Results-Count"] == str(count)
        return sorted(e["id"] for e in r.json())

    assert ids(public, "type=HomeSafetySensor", count=0) == [] and ids(admin, "type=HomeSafetySensor", 1) == [home]
    assert ids(public, "idPattern=.*", count=2) == sorted([A17, bay])
    # a filter on what the public may not see matches nothing, so that it cannot tell a hidden value
    for q in (f'vehiclePlate=="{plate}"', "batteryLevel<0.5", "batteryLevel>=0.5", "permitValid==false",
              "motionCount>0", "batteryLevel!=7"):
        assert ids(public, "q=" + q) == [], q
    assert ids(admin, f'q=vehiclePlate=="{plate}"') == [bay] and ids(admin, "q=batteryLevel<0.5") == [A17]
    assert ids(public, "attrs=batteryLevel,motionCount") == [] and ids(admin, "attrs=motionCount") == [home]
    assert ids(public, 'q=status=="occupied"') == [bay]   # public in the bay's service and the bins'
    assert ids(public, "type=WasteContainer&q=fillingLevel>0.1;temperature<30") == [A17]
    # a filter naming what a reader may not see in the bays (their fill level) leaves the bays out
    assert ids(public, "q=fillingLevel>0.1|status==\"occupied\"") == [A17]
    # the bay's location is internal: a geo-query does not find it for the public
    near_bay = get(admin, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()["location"]["coordinates"]
    near = f"georel=near;maxDistance==50&geometry=Point&coordinates=[{near_bay[0]},{near_bay[1]}]"
    assert bay not in ids(public, near) and bay in ids(admin, near)
    r = public.post("/ngsi-ld/v1/entityOperations/query", json={"type": "Query", "entities": [{"type": "ParkingSpot"}],
                                                                "q": f'vehiclePlate=="{plate}"'})
    assert r.status_code == 200 and r.json() == []


def test_temporal_reads_show_the_public_only_its_attributes(public, admin):
    bay, home = one_id(admin, "ParkingSpot"), one_id(admin, "HomeSafetySensor")
    during = "timerel=between&timeAt=2026-11-25T00:00:00Z&endTimeAt=2026-11-27T00:00:00Z"
    t = get(public, f"/ngsi-ld/v1/temporal/entities/{bay}?{during}").json()
    assert set(t) == {"id", "type", "status", "category"}
    assert "vehiclePlate" in get(admin, f"/ngsi-ld/v1/temporal/entities/{bay}?{during}").json()
    get(public, f"/ngsi-ld/v1/temporal/entities/{home}?{during}", 404)
    agg = f"{during}&options=aggregatedValues&aggrMethods=max&aggrPeriodDuration=P1D"
    (b,) = get(public, f"/ngsi-ld/v1/temporal/entities?type=WasteContainer&{agg}").json()
    assert "fillingLevel" in b and "batteryLevel" not in b
    (b,) = get(admin, f"/ngsi-ld/v1/temporal/entities?type=WasteContainer&{agg}").json()
    assert b["batteryLevel"]["max"][0][0] == 0.4
    assert get(public, f"/ngsi-ld/v1/temporal/entities?type=HomeSafetySensor&{during}").json() == []


def test_discovery_lists_only_what_the_public_may_see(public, admin):
    assert get(public, "/ngsi-ld/v1/types").json()["typeList"] == ["ParkingSpot", "WasteContainer"]
    assert "HomeSafetySensor" in get(admin, "/ngsi-ld/v1/types").json()["typeList"]
    get(public, "/ngsi-ld/v1/types/HomeSafetySensor", 404)
    names = set(get(public, "/ngsi-ld/v1/attributes").json()["attributeList"])
    assert {"fillingLevel", "status", "category"} <= names
    assert not names & {"batteryLevel", "compactionCount", "vehiclePlate", "permitValid", "motionCount",
                        "householdRef"}
    assert {"vehiclePlate", "householdRef"} <= set(get(admin, "/ngsi-ld/v1/attributes").json()["attributeList"])
    get(public, "/ngsi-ld/v1/attributes/vehiclePlate", 404)


def test_no_public_response_holds_a_plate_or_a_household(public, admin):
    bay, home = one_id(admin, "ParkingSpot"), one_id(admin, "HomeSafetySensor")
    secrets = {PLATE, HOUSEHOLD,
               get(admin, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()["vehiclePlate"],
               get(admin, f"/ngsi-ld/v1/entities/{home}?options=keyValues").json()["householdRef"]}
    during = "timerel=after&timeAt=2026-11-25T00:00:00Z"
    urls = [f"/ngsi-ld/v1/entities/{bay}", f"/ngsi-ld/v1/entities/{bay}?options=sysAttrs",
            "/ngsi-ld/v1/entities?type=ParkingSpot", "/ngsi-ld/v1/entities?idPattern=.*&options=concise",
            f"/ngsi-ld/v1/temporal/entities/{bay}?{during}", f"/ngsi-ld/v1/temporal/entities?type=ParkingSpot&{during}",
            "/ngsi-ld/v1/types?details=true", "/ngsi-ld/v1/attributes?details=true"]
    for url in urls:
        text = public.get(url, headers={"Accept": "application/geo+json"} if "idPattern" in url else {}).text
        assert not [s for s in secrets if s in text], url


def test_a_key_that_is_not_valid_is_refused_not_read_as_public(public):
    r = public.get(f"/ngsi-ld/v1/entities/{A17}", headers={"Authorization": "Bearer not-a-key"})
    assert r.status_code == 401 and r.json()["type"] == ERR + "Unauthorized"


# -- readers' keys: a department, district staff, admins --------------------------------------------------
def keyed(platform, **kw) -> TestClient:
    _, key = platform.issue_api_key("test", **kw)
    c = TestClient(create_app(platform))
    c.headers["Authorization"] = f"Bearer {key}"
    return c


def test_a_department_key_sees_its_own_services_and_staff_see_internal_data(platform, admin):
    bay, home = one_id(admin, "ParkingSpot"), one_id(admin, "HomeSafetySensor")
    plate = get(admin, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()["vehiclePlate"]
    readers = {"sanitation": keyed(platform, department="sanitation"),          # owns the bins
               "parking": keyed(platform, department="welfare-mobility"),      # owns the bays
               "welfare": keyed(platform, department="welfare"),               # owns the homes
               "staff": keyed(platform, scopes=["staff"])}
    sees = {name: set(get(c, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()) for name, c in readers.items()}
    assert "vehiclePlate" in sees["parking"] and "permitValid" in sees["parking"]
    assert "permitValid" in sees["staff"] and "vehiclePlate" not in sees["staff"]   # internal yes, restricted no
    assert sees["sanitation"] == sees["welfare"] == {"id", "type", "status", "category"}
    battery = {name: "batteryLevel" in get(c, f"/ngsi-ld/v1/entities/{A17}").json() for name, c in readers.items()}
    assert battery == {"sanitation": True, "parking": False, "welfare": False, "staff": True}
    homes = {name: c.get(f"/ngsi-ld/v1/entities/{home}").status_code for name, c in readers.items()}
    assert homes == {"sanitation": 404, "parking": 404, "welfare": 200, "staff": 404}
    # filters and discovery follow the same lines
    found = {name: [e["id"] for e in get(c, f'/ngsi-ld/v1/entities?q=vehiclePlate=="{plate}"').json()]
             for name, c in readers.items()}
    assert found == {"sanitation": [], "parking": [bay], "welfare": [], "staff": []}
    during = "timerel=after&timeAt=2026-11-25T00:00:00Z"
    assert "motionCount" in get(readers["welfare"], f"/ngsi-ld/v1/temporal/entities/{home}?{during}").json()
    get(readers["staff"], f"/ngsi-ld/v1/temporal/entities/{home}?{during}", 404)
    assert "HomeSafetySensor" in get(readers["welfare"], "/ngsi-ld/v1/types").json()["typeList"]
    assert "HomeSafetySensor" not in get(readers["staff"], "/ngsi-ld/v1/types").json()["typeList"]


def test_a_revoked_key_is_refused_and_only_admin_keys_write(platform):
    staff = keyed(platform, scopes=["staff"])
    assert staff.get(f"/ngsi-ld/v1/entities/{A17}").status_code == 200
    key_id = next(k.id for k in platform.store.api_keys() if k.scopes == ("staff",))
    assert platform.store.revoke_api_key(key_id, platform.clock.now_us())
    platform.keys.TTL_S = 0   # a revocation reaches every process within TTL_S (5 s); here at once
    r = staff.get(f"/ngsi-ld/v1/entities/{A17}")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    body = {"id": "urn:ngsi-ld:Thing:k1", "type": "Thing", "n": {"type": "Property", "value": 1}}
    r = keyed(platform, scopes=["staff"]).post("/ngsi-ld/v1/entities", json=body)
    assert r.status_code == 403 and r.json()["type"] == ERR + "Forbidden"
    assert keyed(platform, scopes=["admin"]).post("/ngsi-ld/v1/entities", json=body).status_code == 201
    assert TestClient(create_app(platform)).post("/ngsi-ld/v1/entities", json=body).status_code == 401


def test_keys_are_rate_limited_one_by_one(platform):
    platform.key_rate.per_minute = 3
    a, b = keyed(platform, scopes=["staff"]), keyed(platform, department="sanitation")
    during = "timerel=after&timeAt=2026-11-25T00:00:00Z"
    for url in (f"/ngsi-ld/v1/entities/{A17}", "/ngsi-ld/v1/entities?type=WasteContainer",
                f"/ngsi-ld/v1/temporal/entities?type=WasteContainer&{during}"):   # each counts once
        assert a.get(url).status_code == 200
    r = a.get(f"/ngsi-ld/v1/entities/{A17}")
    assert r.status_code == 429 and r.json()["type"] == ERR + "TooManyRequests"
    assert 1 <= int(r.headers["Retry-After"]) <= 20 and "3 requests a minute" in r.json()["detail"]
    assert b.get(f"/ngsi-ld/v1/entities/{A17}").status_code == 200      # another key has its own
    for _ in range(5):                                                  # no key: not limited per key
        assert TestClient(create_app(platform)).get(f"/ngsi-ld/v1/entities/{A17}").status_code == 200
