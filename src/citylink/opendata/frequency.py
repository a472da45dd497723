"""How often a dataset is updated: the names specs and uploaded tables may give, each with its term of the
EU Vocabularies' frequency table (the values DCAT-AP takes for ``dct:accrualPeriodicity``).

A service's data is updated as often as its devices report: without ``update_frequency`` its
``reporting_interval`` is taken, when the table has that interval, else ``continuous``."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec.model import Label

EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"


@dataclass(frozen=True)
class Frequency:
    name: str                 # what a spec writes
    code: str                 # the EU term
    seconds: float | None     # a fixed period, when it has one
    label: Label

    @property
    def iri(self) -> str:
        return EU_FREQUENCY + self.code


FREQUENCIES: dict[str, Frequency] = {f.name: f for f in (
    Frequency("continuous", "UPDATE_CONT", None, Label("수시 갱신 (실시간)", "Continuously updated")),
    Frequency("PT1M", "1MIN", 60, Label("1분마다", "Every minute")),
    Frequency("PT5M", "5MIN", 300, Label("5분마다", "Every five minutes")),
    Frequency("PT10M", "10MIN", 600, Label("10분마다", "Every ten minutes")),
    Frequency("PT15M", "15MIN", 900, Label("15분마다", "Every fifteen minutes")),
    Frequency("PT30M", "30MIN", 1800, Label("30분마다", "Every thirty minutes")),
    Frequency("PT1H", "HOURLY", 3600, Label("1시간마다", "Hourly")),
    Frequency("PT2H", "BIHOURLY", 7200, Label("2시간마다", "Every two hours")),
    Frequency("PT3H", "TRIHOURLY", 10800, Label("3시간마다", "Every three hours")),
    Frequency("PT12H", "12HRS", 43200, Label("12시간마다", "Twice a day")),
    Frequency("P1D", "DAILY", 86400, Label("매일", "Daily")),
    Frequency("P7D", "WEEKLY", 604800, Label("매주", "Weekly")),
    Frequency("monthly", "MONTHLY", None, Label("매월", "Monthly")),
    Frequency("quarterly", "QUARTERLY", None, Label("분기마다", "Quarterly")),
    Frequency("annual", "ANNUAL", None, Label("매년", "Annual")),
    Frequency("irregular", "IRREG", None, Label("비정기", "Irregular")),
    Frequency("never", "NEVER", None, Label("갱신 없음", "Never updated")),
)}


def frequency(name: str | None, reporting_interval_s: float | None = None) -> Frequency:
    """The frequency named, else the one of the reporting interval, else ``continuous``."""
    if name:
        return FREQUENCIES[name]
    for f in FREQUENCIES.values():
        if f.seconds is not None and f.seconds == reporting_interval_s:
            return f
    return FREQUENCIES["continuous"]
