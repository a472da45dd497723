"""The open data catalogue: DCAT JSON-LD that expands with pyld (no network), the page for people, and what
each reader finds in it (on both engines)."""
from __future__ import annotations

import pytest
from pyld import jsonld

from citylink.opendata import FREQUENCIES, LICENCES
from citylink.opendata.dcat import context
from citylink.spec.loader import validator

from odtest import get, keyed

DCAT, DCT = "http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"


def no_network(url, options=None):
    raise AssertionError(f"the catalogue made pyld fetch {url}")


def expanded(doc: dict) -> list[dict]:
    return jsonld.expand(doc, {"documentLoader": no_network})


def dataset_ids(client) -> set[str]:
    return {d["dct:identifier"] for d in get(client, "/opendata/catalog.jsonld").json()["dcat:dataset"]}


def test_the_catalogue_is_dcat_in_json_ld(public):
    r = get(public, "/opendata/catalog.jsonld")
    assert r.headers["content-type"].startswith("application/ld+json")
    doc = r.json()
    assert doc["@context"] == context() and doc["@id"].endswith("/opendata/catalog.jsonld")
    (cat,) = expanded(doc)
    assert cat["@type"] == [DCAT + "Catalog"]
    sets = cat[DCAT + "dataset"]
    assert len(sets) == len(doc["dcat:dataset"]) >= 7
    bins = next(d for d in sets if d[DCT + "identifier"][0]["@value"] == "waste-bins")
    assert bins["@type"] == [DCAT + "Dataset"]
    assert {(t["@language"], t["@value"]) for t in bins[DCT + "title"]} == \
        {("ko", "스마트 압축 태양광 쓰레기통"), ("en", "Compacting solar trash bins")}
    assert ("ko", "쓰레기통") in {(k["@language"], k["@value"]) for k in bins[DCAT + "keyword"]}
    assert bins[DCT + "license"][0]["@id"] == LICENCES["KOGL-1"].url
    assert bins[DCT + "accrualPeriodicity"][0]["@id"] == FREQUENCIES["PT30M"].iri   # its reporting interval
    publisher = bins[DCT + "publisher"][0]
    assert publisher["@type"] == [FOAF + "Agent"] and publisher[DCT + "identifier"][0]["@value"] == "sanitation"
    assert ("ko", "청소행정과") in {(n["@language"], n["@value"]) for n in publisher[FOAF + "name"]}
    formats = {}
    for dist in bins[DCAT + "distribution"]:
        assert dist["@type"] == [DCAT + "Distribution"]
        assert dist[DCAT + "accessURL"][0]["@id"] == dist["@id"]
        assert DCAT + "downloadURL" not in dist   # a range is needed: described, not a direct file
        formats[dist["@id"].rsplit(".", 1)[1]] = dist.get(DCAT + "mediaType", [{}])[0].get("@id")
    assert formats == {"csv": "https://www.iana.org/assignments/media-types/text/csv",
                       "json": "https://www.iana.org/assignments/media-types/application/json",
                       "jsonl": None,
                       "parquet": "https://www.iana.org/assignments/media-types/application/vnd.apache.parquet"}
    # every member of the document means something: expansion dropped none of them
    prefixes = context()
    for raw, done in zip(doc["dcat:dataset"], sets):
        iris = {prefixes[k.split(":")[0]] + k.split(":")[1] for k in raw if not k.startswith("@")}
        assert iris == set(done) - {"@id", "@type"}
    nquads = jsonld.to_rdf(doc, {"documentLoader": no_network, "format": "application/n-quads"})
    assert nquads.count(f"<{DCAT}Dataset>") == len(sets)


def test_each_reader_finds_the_datasets_it_may_see_something_of(platform, public, admin):
    everything = dataset_ids(admin)
    assert "safety-keeper" in everything and "waste-bins" in everything
    assert "safety-keeper" not in dataset_ids(public)       # nothing of it is public
    assert "safety-keeper" in dataset_ids(keyed(platform, department="welfare"))
    assert "safety-keeper" not in dataset_ids(keyed(platform, department="sanitation"))
    assert "safety-keeper" not in dataset_ids(keyed(platform, scopes=["staff"]))   # restricted, not internal
    assert dataset_ids(public) == everything - {"safety-keeper"}


def test_the_page_lists_the_datasets_with_licence_frequency_and_downloads(public, admin):
    r = get(public, "/opendata")
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http://" not in html.replace(
        "http://testserver", "")
    assert 'id="waste-bins"' in html and "공공누리 제1유형: 출처표시" in html and "KOGL Type 1: Source Indication" in html
    assert "30분마다" in html and "Every thirty minutes" in html
    assert "/opendata/datasets/waste-bins/download.parquet?timeAt=" in html
    assert "fillingLevel" in html and "batteryLevel" not in html        # the public's attributes only
    assert 'id="safety-keeper"' not in html and 'id="safety-keeper"' in get(admin, "/opendata").text
    assert "batteryLevel" in get(admin, "/opendata").text


def test_the_schemas_offer_exactly_the_registered_licences_and_frequencies():
    for kind in ("service", "table"):
        props = validator(kind).schema
        od = props["$defs"]["open_data"]["properties"] if kind == "service" else props["properties"]
        assert set(od["licence"]["enum"]) == set(LICENCES)
        assert set(od["update_frequency"]["enum"]) == set(FREQUENCIES)


@pytest.mark.parametrize("bad, where, msg", [
    ("  licence: KOGL-9\n", "open_data.licence", "'KOGL-9' is not one of"),
    ("  licence: KOGL-1\n  update_frequency: PT20M\n", "open_data.update_frequency", "'PT20M' is not one of"),
    ("  licence: KOGL-1\n  keywords: {ko: [a]}\n", "open_data.keywords", "missing required key: 'en'"),
])
def test_a_bad_open_data_block_is_a_spec_error_with_its_line(bad, where, msg):
    from citylink.errors import SpecError
    from citylink.spec.loader import load_texts
    from citylink.config import BUNDLED_SPECS
    text = (BUNDLED_SPECS / "waste-bins" / "service.yaml").read_text()
    start = text.index("open_data:\n")
    end = text.index("entity_types:")
    text = text[:start] + "open_data:\n" + bad + text[end:]
    with pytest.raises(SpecError) as e:
        load_texts([("specs/waste-bins/service.yaml", text)], compile_sources=False)
    (p,) = e.value.problems
    line = text[:start].count("\n") + 2 + (1 if "update_frequency" in where else 0) + (1 if "keywords" in where else 0)
    assert (p.path, p.line) == (where, line) and msg in p.msg, str(p)
    assert str(p).startswith(f"specs/waste-bins/service.yaml:{line}: {where}: ")
