"""The raw archive as readers see it: who may read a source's raw messages and quarantine, and each message as
it is shown to them (personal fields pseudonymised, :mod:`.redaction`).  One rule and one view for every route
that shows raw messages — ``/api/raw``, ``/api/quarantine``, the quarantine's replay, a device's recent
messages.

A raw message is ``restricted`` data of its source's service: the owning department and admins read it; of a
source no longer in force, the admins only."""
from __future__ import annotations

from ..clock import iso
from ..normalize.compiler import pseudonymiser
from ..normalize.records import OUTCOME_NAMES, RawMessage
from .readers import Viewer
from .redaction import SourceRedaction

WITHHELD = {"withheld": "the source is not in force; admins may read the message through an audited read"}


class RawArchive:
    """One platform's raw messages, for one reader at a time; the redactions are worked out once per spec set."""

    def __init__(self, platform):
        self.platform = platform
        self._pz = pseudonymiser(platform.settings.resolved_pseudonym_key())
        self._specs = None
        self._redactions: dict[str, SourceRedaction] = {}

    def readable(self, v: Viewer, source: str) -> bool:
        """May ``v`` read the source's raw messages and quarantine."""
        if v.admin:
            return True
        specs = self.platform.specs
        src = specs.sources.get(source)
        return src is not None and v.may_see("restricted", specs.services[src.service].department)

    def redaction(self, source: str) -> SourceRedaction | None:
        """The source's redaction; None for a source not in force."""
        specs = self.platform.specs
        if self._specs is not specs:
            self._specs, self._redactions = specs, {}
        got = self._redactions.get(source)
        if got is None and source in specs.sources:
            src = specs.sources[source]
            got = self._redactions[source] = SourceRedaction(src, specs.services[src.service], self._pz)
        return got

    def body(self, source: str, body: bytes) -> dict:
        """A message's body as shown: its records redacted, or withheld (a source not in force)."""
        red = self.redaction(source)
        return red.message(body) if red else dict(WITHHELD)

    def problems(self, source: str, problems: list[dict]) -> list[dict]:
        """A quarantined message's problems as shown: a personal value in a detail pseudonymised; of a source no
        longer in force, the type and field only."""
        red = self.redaction(source)
        if red:
            return red.problems(problems)
        return [{"type": p["type"], "field": p["field"], "detail": ""} for p in problems]

    def shown(self, messages: list[RawMessage]) -> list[dict]:
        """Messages as ``GET /api/raw/{id}`` shows them: id, source, arrival, transport, outcome and the body."""
        outcomes = self.platform.store.outcomes([m.id for m in messages]) if messages else {}
        return [{"id": m.id, "source": m.source, "receivedAt": iso(m.received_at), "transport": m.transport,
                 "meta": m.meta, "outcome": OUTCOME_NAMES.get(outcomes[m.id][0], "pending") if m.id in outcomes
                 else "pending"} | self.body(m.source, m.body) for m in messages]
