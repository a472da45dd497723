"""TermMap: one @context, processed by pyld once, as dictionaries (api/ldcontext.py).

These need no store: a Contexts is given only what it reads of a platform (the specs in force and their
revision), here the empty spec set, so its default is the core context behind an empty term list."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from citylink.api import ldcontext
from citylink.api.ldcontext import Contexts, TermMap
from citylink.api.problems import NgsiError
from citylink.spec.model import CITYLINK_CONTEXT_URL, NGSI_LD_CORE_CONTEXT_URL, SpecSet

CORE = NGSI_LD_CORE_CONTEXT_URL
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
SDM = "https://smartdatamodels.org/dataModel.WasteManagement/"
PARKING = "https://smartdatamodels.org/dataModel.Parking/"
SCOPED = [{
    "sdm": SDM,
    "fillingLevel": SDM + "fillingLevel",
    "fill": SDM + "fillingLevel",
    "WasteContainer": {"@id": SDM + "WasteContainer", "@context": {"status": SDM + "status"}},
    "ParkingSpot": {"@id": PARKING + "ParkingSpot", "@context": {"status": PARKING + "status"}},
}, CORE]


def offline(url: str, timeout: float) -> bytes:
    raise AssertionError(f"fetched {url}: bundled contexts must never be fetched")


@pytest.fixture
def contexts():
    return Contexts(SimpleNamespace(revision=1, specs=SpecSet()), fetch=offline)


def build(contexts: Contexts, ctx) -> TermMap:
    return asyncio.run(contexts.resolve(ctx))


def test_core_context_is_bundled_and_never_fetched(contexts):
    core = build(contexts, CORE)
    assert core.link == CORE
    assert core.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert core.expand("observedAt") == "https://uri.etsi.org/ngsi-ld/observedAt"
    assert core.compact("https://uri.etsi.org/ngsi-ld/location") == "location"
    assert contexts.core_document()["@context"]["@vocab"] == VOCAB


def test_unknown_terms_take_the_core_vocab_and_compact_back(contexts):
    core = build(contexts, CORE)
    assert core.expand("fillingLevel") == VOCAB + "fillingLevel"
    assert core.compact(VOCAB + "fillingLevel") == "fillingLevel"
    assert core.compact(SDM + "fillingLevel") == SDM + "fillingLevel"  # no term: the IRI itself


def test_iris_and_compact_iris_pass_through_expanded(contexts):
    tm = build(contexts, SCOPED)
    assert tm.expand(SDM + "fillingLevel") == SDM + "fillingLevel"
    assert tm.expand("urn:ngsi-ld:thing") == "urn:ngsi-ld:thing"
    assert tm.expand("sdm:temperature") == SDM + "temperature"
    assert tm.expand("ngsi-ld:observedAt") == "https://uri.etsi.org/ngsi-ld/observedAt"


def test_compact_picks_the_shortest_term(contexts):
    tm = build(contexts, SCOPED)
    assert tm.expand("fill") == tm.expand("fillingLevel") == SDM + "fillingLevel"
    assert tm.compact(SDM + "fillingLevel") == "fill"


def test_type_scoped_terms(contexts):
    tm = build(contexts, SCOPED)
    # at the top the core context's protected term is in force; inside a type its scoped one
    assert tm.expand("status") == "https://uri.etsi.org/ngsi-ld/status"
    assert tm.expand("status", "WasteContainer") == SDM + "status"
    assert tm.expand("status", PARKING + "ParkingSpot") == PARKING + "status"
    assert tm.compact(PARKING + "status", "ParkingSpot") == "status"
    assert tm.compact(SDM + "status", "WasteContainer") == "status"
    # inside a ParkingSpot, "status" is the parking one: the core status has no term there
    assert tm.compact("https://uri.etsi.org/ngsi-ld/status", "ParkingSpot") == "https://uri.etsi.org/ngsi-ld/status"
    # without a type, a term only a scoped context has still names its IRI (CityLink stores it so)
    assert tm.compact(SDM + "status") == "status"
    assert tm.expand("fill", "WasteContainer") == SDM + "fillingLevel"  # the rest is inherited


def test_resolved_once_per_distinct_context(contexts):
    a = build(contexts, SCOPED)
    assert build(contexts, list(SCOPED)) is a
    assert build(contexts, [dict(SCOPED[0], extra="https://example.org/extra"), CORE]) is not a


def test_default_is_citylinks_context_and_follows_the_revision():
    platform = SimpleNamespace(revision=1, specs=SpecSet())
    contexts = Contexts(platform, fetch=offline)
    first = contexts.default
    assert contexts.default is first
    assert build(contexts, CITYLINK_CONTEXT_URL) is first
    platform.revision = 2
    assert contexts.default is not first
    assert ldcontext.stored_name(VOCAB + "anything", contexts) == "anything"


def test_invalid_inline_context_is_bad_request(contexts):
    with pytest.raises(NgsiError) as e:
        build(contexts, {"x": {"@id": 12}})
    assert e.value.kind == "BadRequestData" and e.value.detail.startswith("@context:")
    with pytest.raises(NgsiError) as e:
        build(contexts, "ftp://example.org/ctx.jsonld")
    assert e.value.kind == "BadRequestData"


def test_memo_of_other_names_is_bounded(contexts):
    tm = build(contexts, CORE)
    for i in range(ldcontext.MAX_MEMO + 10):
        tm.expand(f"term{i}")
    assert len(tm._expanded) <= ldcontext.MAX_MEMO
