"""The catalogue's datasets, as one reader may see them.

A dataset is either one service's data — its entity types' attributes, for a service spec with an
``open_data:`` block — or an uploaded table (:mod:`.tables`).  Each reader sees a dataset with the
attributes or columns its view allows (:mod:`citylink.access`): the public only the public ones, a
department its own internal and restricted ones too, and a dataset of which the reader may see nothing is not
in its catalogue at all (nor downloadable: it answers as a dataset that does not exist).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..access import View
from ..spec.model import Label, ServiceSpec
from ..store.opendata import HistoryScope, OpenTableRow
from .formats import Field
from .frequency import Frequency, frequency
from .licences import LICENCES, Licence
from .tables import TableColumn, stored_meta

# the columns of a service's download: one row per attribute value (a long layout — see docs/open-data.md)
HISTORY_FIELDS = [Field("entity_id", "text"), Field("entity_type", "text"), Field("observed_at", "instant"),
                  Field("attribute", "text"), Field("value", "any"), Field("unit", "text"), Field("flags", "text")]
_KINDS = {"Text": "text", "Integer": "integer", "Number": "number"}


@dataclass(frozen=True)
class Column:
    """An attribute (of an entity type) or a table column, as the catalogue describes it."""
    name: str
    label: Label
    type: str
    unit: str | None = None
    entity_type: str | None = None


@dataclass
class Dataset:
    id: str
    kind: str                    # service | table
    title: Label
    description: Label | None
    department: str
    licence: Licence
    frequency: Frequency
    keywords: dict[str, tuple[str, ...]]
    columns: list[Column]        # what this reader may see
    scopes: list[HistoryScope] = field(default_factory=list)   # a service's: what a download reads
    table_columns: list[int] = field(default_factory=list)      # a table's: the indexes shown
    fields: list[Field] = field(default_factory=list)           # the download's columns
    modified: int | None = None  # a table's upload time (µs)
    version: int | None = None
    rows: int | None = None

    @property
    def time_series(self) -> bool:
        return self.kind == "service"


def _service_dataset(svc: ServiceSpec, view: View) -> Dataset | None:
    od = svc.open_data
    columns, scopes = [], []
    for tname, et in svc.entity_types.items():
        if view.unrestricted:
            shown = list(et.attributes.values())
            scopes.append(HistoryScope(svc.id, tname))
        else:
            declared, default = view.rules((svc.id, tname))
            shown = [a for a in et.attributes.values() if declared.get(a.iri, default)]
            if default:   # what the spec does not declare is visible: read all but the hidden
                scopes.append(HistoryScope(svc.id, tname, tuple(a.iri for a in et.attributes.values()
                                                                if not declared.get(a.iri, default)), only=False))
            elif shown:
                scopes.append(HistoryScope(svc.id, tname, tuple(a.iri for a in shown)))
        columns += [Column(a.name, a.label, a.type, a.unit, tname) for a in shown]
    if not columns:
        return None
    return Dataset(svc.id, "service", od.title or svc.name, od.description or svc.description, svc.department,
                   LICENCES[od.licence], frequency(od.update_frequency, svc.reporting_interval_s), od.keywords,
                   columns, scopes=scopes, fields=HISTORY_FIELDS)


def _table_dataset(row: OpenTableRow, view: View) -> Dataset | None:
    meta = stored_meta(row.meta)
    cols: list[tuple[int, TableColumn]] = [(i, meta.column(name)) for i, name in enumerate(row.columns)]
    shown = [(i, c) for i, c in cols if view.viewer.may_see(c.visibility, meta.department)]
    if not shown:
        return None
    return Dataset(meta.id, "table", meta.title, meta.description, meta.department, LICENCES[meta.licence],
                   frequency(meta.update_frequency), meta.keywords,
                   [Column(c.name, c.label, c.type, c.unit) for _, c in shown],
                   table_columns=[i for i, _ in shown], fields=[Field(c.name, _KINDS[c.type]) for _, c in shown],
                   modified=row.uploaded_at, version=row.version, rows=row.row_count)


def datasets(platform, view: View) -> dict[str, Dataset]:
    """Every dataset this reader may see something of, by id: the services' (spec order), then the tables."""
    out: dict[str, Dataset] = {}
    for svc in platform.specs.services.values():
        if svc.open_data is not None:
            d = _service_dataset(svc, view)
            if d is not None:
                out[d.id] = d
    for row in platform.store.open_tables():
        d = _table_dataset(row, view)
        if d is not None and d.id not in out:
            out[d.id] = d
    return out


def dataset(platform, view: View, dataset_id: str) -> Dataset | None:
    """One dataset as this reader may see it (None: none of that id, or nothing of it visible)."""
    svc = platform.specs.services.get(dataset_id)
    if svc is not None:
        return _service_dataset(svc, view) if svc.open_data is not None else None
    rows = platform.store.open_tables(dataset_id)
    return _table_dataset(rows[0], view) if rows else None
