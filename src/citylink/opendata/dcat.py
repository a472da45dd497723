"""The catalogue as DCAT (W3C Data Catalog Vocabulary, version 3) in JSON-LD.

One ``dcat:Catalog`` at a stable URL (``/opendata/catalog.jsonld``) with a ``dcat:Dataset`` per dataset the
reader may see (:mod:`.datasets`): ``dct:title`` and ``dct:description`` in Korean and English
(``@language``), ``dcat:keyword``, ``dct:publisher`` (the department, a ``foaf:Agent``), ``dct:license``
(the licence's official text), ``dct:accrualPeriodicity`` (a term of the EU frequency table) and, for a
service, ``dcat:temporalResolution`` (its reporting interval); a ``dcat:Distribution`` per download format
with its ``dcat:mediaType``.  A service's download needs a time range, so its distributions give the URL as
``dcat:accessURL`` and say how in ``dct:description``; a table's URL is also its ``dcat:downloadURL``.

The @context is carried inline (the bundled ``data/contexts/dcat-context.jsonld``: prefixes only), so a
JSON-LD processor reads the document without fetching anything.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import orjson

from ..clock import iso
from ..spec.model import Label
from .datasets import Dataset
from .formats import FORMATS

CONTEXT_FILE = Path(__file__).resolve().parent.parent / "data" / "contexts" / "dcat-context.jsonld"
CATALOG_PATH = "/opendata/catalog.jsonld"
PAGE_PATH = "/opendata"
IANA = "https://www.iana.org/assignments/media-types/"


@lru_cache(maxsize=1)
def context() -> dict:
    return orjson.loads(CONTEXT_FILE.read_bytes())["@context"]


def _lang(label: Label | None) -> list[dict]:
    if label is None:
        return []
    return [{"@language": "ko", "@value": label.ko}, {"@language": "en", "@value": label.en}]


def download_url(base: str, dataset_id: str, fmt: str) -> str:
    return f"{base}/opendata/datasets/{dataset_id}/download.{fmt}"


def _licence(ds: Dataset) -> dict:
    lic = ds.licence
    return {"@id": lic.url, "@type": "dct:LicenseDocument", "dct:identifier": lic.id, "dct:title": _lang(lic.name)}


HOW = Label("시간 범위가 필요합니다: ?timeAt=…&endTimeAt=… (ISO 8601, 최대 {days}일), 선택 사항으로 "
            "bbox=최소경도,최소위도,최대경도,최대위도.",
            "Needs a time range: ?timeAt=…&endTimeAt=… (ISO 8601, at most {days} days), optionally "
            "bbox=minLon,minLat,maxLon,maxLat.")


def _distribution(base: str, ds: Dataset, fmt, max_days: float) -> dict:
    url = download_url(base, ds.id, fmt.name)
    d = {"@id": url, "@type": "dcat:Distribution",
         "dct:title": _lang(Label(f"{ds.title.ko} ({fmt.label})", f"{ds.title.en} ({fmt.label})")),
         "dct:format": fmt.label, "dcat:accessURL": {"@id": url}, "dct:license": _licence(ds)}
    if fmt.registered:
        d["dcat:mediaType"] = {"@id": IANA + fmt.media_type.split(";")[0]}
    if ds.time_series:
        d["dct:description"] = _lang(Label(HOW.ko.format(days=f"{max_days:g}"), HOW.en.format(days=f"{max_days:g}")))
    else:
        d["dcat:downloadURL"] = {"@id": url}
    return d


def _dataset(base: str, ds: Dataset, departments: dict, reporting: dict[str, float | None], max_days: float) -> dict:
    dept = departments.get(ds.department)
    name = getattr(dept, "name", None) or Label(ds.department, ds.department)
    out = {"@id": f"{base}/opendata/datasets/{ds.id}", "@type": "dcat:Dataset", "dct:identifier": ds.id,
           "dct:title": _lang(ds.title)}
    if ds.description is not None:
        out["dct:description"] = _lang(ds.description)
    words = [{"@language": lang, "@value": w} for lang in ("ko", "en") for w in ds.keywords.get(lang, ())]
    if words:
        out["dcat:keyword"] = words
    out.update({
        "dct:publisher": {"@id": f"{base}/opendata/departments/{ds.department}", "@type": "foaf:Agent",
                          "dct:identifier": ds.department, "foaf:name": _lang(name)},
        "dct:license": _licence(ds),
        "dct:accrualPeriodicity": {"@id": ds.frequency.iri, "@type": "dct:Frequency",
                                   "skos:prefLabel": _lang(ds.frequency.label)},
        "dcat:landingPage": {"@id": f"{base}{PAGE_PATH}#{ds.id}"},
    })
    seconds = reporting.get(ds.id)
    if seconds:
        out["dcat:temporalResolution"] = {"@value": f"PT{int(seconds)}S", "@type": "xsd:duration"}
    if ds.modified is not None:
        out["dct:modified"] = {"@value": iso(ds.modified), "@type": "xsd:dateTime"}
        out["dcat:version"] = str(ds.version)
    out["dcat:distribution"] = [_distribution(base, ds, fmt, max_days) for fmt in FORMATS.items().values()]
    return out


def catalogue(base: str, datasets: list[Dataset], *, deployment: str, departments: dict,
              reporting: dict[str, float | None], max_days: float) -> dict:
    """The catalogue document; ``base``: the server's URL as the client reached it (no trailing slash)."""
    return {
        "@context": context(),
        "@id": base + CATALOG_PATH, "@type": "dcat:Catalog",
        "dct:title": _lang(Label(f"CityLink 공공데이터 — {deployment}", f"CityLink open data — {deployment}")),
        "dct:description": _lang(Label("스마트도시 서비스의 측정 자료와 구가 올린 표. 보이는 속성은 열람자에 따라 다릅니다.",
                                       "Smart city services' readings and tables the district publishes; what is "
                                       "shown depends on who reads.")),
        "dct:publisher": {"@id": base + PAGE_PATH, "@type": "foaf:Agent", "foaf:name": deployment},
        "foaf:homepage": {"@id": base + PAGE_PATH},
        "dcat:dataset": [_dataset(base, d, departments, reporting, max_days) for d in datasets],
    }
