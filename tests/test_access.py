"""The visibility model on its own (citylink.access); what the API shows with it: tests/api/test_visibility.py."""
from __future__ import annotations

from types import SimpleNamespace as NS

from citylink.access import ADMIN, ANONYMOUS, LOCATION, KeyRing, RateLimit, Viewer, Visibility
from citylink.store import open_store
from citylink.store.base import ApiKeyRow, AttrRow, EntityRow


def attr(name, visibility="public", personal=False):
    return NS(name=name, iri="https://x.example/" + name, visibility=visibility, personal=personal)


SPECS = NS(services={
    "counters": NS(department="roads", visibility="public", entity_types={
        "Counter": NS(attributes={"count": attr("count"), "owner": attr("owner", "public", personal=True),
                                  "battery": attr("battery", "internal")})}),
    "homes": NS(department="welfare", visibility="restricted", entity_types={"Home": NS(attributes={})}),
    "bays": NS(department="parking", visibility="internal", entity_types={
        "Bay": NS(attributes={"status": attr("status")})})})


def row(service, type_, *names, lon=127.0, lat=37.6):
    attrs = [AttrRow("https://x.example/" + n, n, "Property", "Number", "", 1.0, None, None, 0, 0, None, None, 0)
             for n in names]
    return EntityRow(f"urn:ngsi-ld:{type_}:1", type_, service, "d", "s", lon, lat, attrs=attrs)


def test_personal_is_never_public_whatever_the_spec_says():
    public = Visibility(SPECS).view(ANONYMOUS)
    e = public.shown(row("counters", "Counter", "count", "owner", "battery", "undeclared"))
    assert [a.name for a in e.attrs] == ["count", "undeclared"]   # undeclared: the service's default (public)
    assert (e.lon, e.lat) == (127.0, 37.6)
    assert not public.attribute_visible(e, "https://x.example/owner")


def test_the_public_sees_services_with_something_public_and_only_that():
    public = Visibility(SPECS).view(ANONYMOUS)
    assert sorted(public.scope()) == [("bays", "Bay"), ("counters", "Counter")]
    assert public.scope(geo=True) == [("counters", "Counter")]           # the bays' location is internal
    # status: public in bays, undeclared in counters (whose default is public); count: undeclared in bays,
    # whose default is internal
    assert sorted(public.scope(names={"status"})) == [("bays", "Bay"), ("counters", "Counter")]
    assert public.scope(names={"count"}) == [("counters", "Counter")]
    assert public.scope(names={"count", "status"}, types={"Counter", "Bay"}) == [("counters", "Counter")]
    assert public.scope(names={"battery"}) == [] and public.scope(types={"Home"}) == []
    bay = public.shown(row("bays", "Bay", "status", "plate"))
    assert [a.name for a in bay.attrs] == ["status"] and bay.lon is None
    assert not public.entity_visible(row("homes", "Home")) and not public.entity_visible(row(None, "Thing"))


def test_the_admin_sees_everything_unchanged():
    admin = Visibility(SPECS).view(ADMIN)
    e = row("homes", "Home", "motion")
    assert admin.scope() is None and admin.entity_visible(e) and admin.shown(e) is e and e.attrs
    assert admin.attribute_visible(row(None, "Thing"), LOCATION)


def test_staff_see_internal_data_and_a_department_its_own():
    staff = Viewer("staff", staff=True)
    roads = Viewer("roads", departments=frozenset({"roads"}))
    assert [staff.may_see(v, "welfare") for v in ("public", "internal", "restricted")] == [True, True, False]
    assert [roads.may_see(v, "roads") for v in ("public", "internal", "restricted")] == [True, True, True]
    assert [roads.may_see(v, "welfare") for v in ("public", "internal", "restricted")] == [True, False, False]
    view = Visibility(SPECS).view(roads)
    e = view.shown(row("counters", "Counter", "count", "owner", "battery"))
    assert [a.name for a in e.attrs] == ["count", "owner", "battery"]   # its own: the pseudonym too
    assert not view.entity_visible(row("homes", "Home"))


def test_rate_limit_buckets():
    limit = RateLimit(2)
    assert limit.retry_after("a") is None and limit.retry_after("a") is None
    wait = limit.retry_after("a")
    assert wait is not None and 29 < wait <= 30            # 2 a minute: one more in 30 s
    assert limit.retry_after("b") is None                  # each reader its own bucket
    assert RateLimit(0).retry_after("a") is None           # 0: no limit


def test_a_key_ring_finds_a_key_by_its_id_until_it_is_revoked(tmp_path):
    """Whom a subscription acts for: the key's reader, remembered for TTL_S, then gone with the key."""
    store = open_store(f"sqlite:///{tmp_path / 'keys.db'}")
    try:
        store.add_api_key(ApiKeyRow("k1", "parking office", "welfare-mobility", (), 0), "ab" * 32)
        ring = KeyRing(store)
        v = ring.by_id("k1")
        assert v.key_id == "k1" and v.departments == {"welfare-mobility"} and not v.staff and not v.admin
        assert ring.by_id("k2") is None
        store.revoke_api_key("k1", 1)
        assert ring.by_id("k1") == v    # remembered: a revocation takes up to TTL_S to reach a process
        ring.TTL_S = 0
        assert ring.by_id("k1") is None
    finally:
        store.close()
