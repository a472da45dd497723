"""Which subscriptions a committed batch concerns, in two steps.

1. On the normalizer's thread, after every commit (:meth:`Platform.on_commit`), :meth:`Matcher.__call__`
   finds the entities the batch changed and the attribute IRIs changed on each, and matches them in
   memory against the active subscriptions: entity id and ``idPattern`` (and type, when the batch
   announces the entity), ``watchedAttributes`` by short name or IRI.  No subscriptions: it returns at
   once; otherwise it costs a pass over the batch's rows and hands (subscription, {entity id: attribute
   IRIs changed}) to the notifier.  No database, no HTTP.
2. On a delivery thread, :meth:`Matcher.select` asks the store for those entities with the
   subscription's ``q`` and ``geoQ`` — the query API's own code — and keeps those of a wanted type;
   what it returns is what the notification carries.  It reads as the subscription's owner (a
   :class:`~citylink.access.View`, as a query of that key would): only entities of the (service, type)
   pairs in which the owner may see everything the subscription filters on, only those of which an
   attribute the owner may see changed (a hidden value's change does not even show as a notification),
   with only the attributes the owner may see.

So ``q`` and ``geoQ`` mean exactly what they mean in ``GET /entities``, evaluated on the entity as it is
when the notification goes (after a throttling pause, on the newest values).  Changes come from
adapters and NGSI-LD API writes alike: both are batches of the one write path.  A deleted attribute
counts as a change of it; a deleted entity is found no more and so is not notified.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

from ..access import View
from ..api import context
from ..normalize.records import NormalizedBatch
from ..store.base import EntityRow
from .model import Subscription

log = logging.getLogger(__name__)

SELECT_CHUNK = 500   # entity ids per store query


class Matcher:
    def __init__(self, platform, enqueue: Callable[[str, dict[str, set[str]]], None]):
        self.platform = platform
        self.enqueue = enqueue
        self._subs: tuple[Subscription, ...] = ()
        self._names: dict[str, str] = {}      # attribute IRI → short name
        self._names_of = None                 # the normalizer they were read from
        self._types: dict[str, str] = {}      # entity type IRI or short name → short name
        self._types_of = None

    def load(self, subs: Iterable[Subscription]) -> None:
        """The subscriptions to match from now on (the service calls this after every change)."""
        self._subs = tuple(subs)

    # -- step 1: the commit listener ----------------------------------------------------------------
    def __call__(self, batch: NormalizedBatch) -> None:
        subs = self._subs
        if not subs:
            return
        changed: dict[str, set[str]] = {}
        for o in batch.observations:
            changed.setdefault(o[1], set()).add(o[2])
        for _, entity_id, attr, _ in batch.deletions:
            if attr is not None:
                changed.setdefault(entity_id, set()).add(attr)
        if not changed:
            return
        now = self.platform.clock.now_us()
        names = self._attribute_names(batch)
        for sub in subs:
            if not sub.live(now):
                continue
            wanted = {eid: iris for eid, iris in changed.items() if self._wants(sub, eid, iris, names, batch)}
            if wanted:
                self.enqueue(sub.id, wanted)

    def _wants(self, sub: Subscription, entity_id: str, iris: set[str], names: dict[str, str],
               batch: NormalizedBatch) -> bool:
        if sub.entities:
            info = batch.entities.get(entity_id)
            etype = info.type if info is not None else None   # unknown here: select() checks it
            if not any(s.matches_id(entity_id) and (etype is None or self.type_matches(s.type, etype))
                       for s in sub.entities):
                return False
        if sub.watched is not None:
            return any(iri in sub.watched or names.get(iri, _tail(iri)) in sub.watched for iri in iris)
        return True

    def _attribute_names(self, batch: NormalizedBatch) -> dict[str, str]:
        norm = self.platform.normalizer
        if norm is not self._names_of:  # the specs were reloaded
            self._names = {iri: row[0] for iri, row in norm.attr_catalog().items()} if norm else {}
            self._names_of = norm
        for iri, row in batch.attributes.items():  # attributes an API write brought
            self._names.setdefault(iri, row[0])
        return self._names

    def type_matches(self, wanted: str, etype: str) -> bool:
        norm = self.platform.normalizer
        if norm is not self._types_of:
            self._types = context.type_names(self.platform.specs)
            self._types_of = norm
        return wanted == etype or self._types.get(wanted) == etype

    # -- step 2: on a delivery thread ------------------------------------------------------------------
    def select(self, sub: Subscription, changes: dict[str, set[str]], view: View) -> list[EntityRow]:
        """Those of the changed entities (id → attribute IRIs changed) the subscription wants now, with
        their current attributes, as ``view`` (its owner's) shows them."""
        scope = view.scope(geo=sub.geo is not None, names=sub.filtered())
        if scope == []:   # the owner may see none of what it filters on, anywhere
            return []
        hidden = self.platform.specs.unpublished
        ids = sorted(changes)
        out: list[EntityRow] = []
        for i in range(0, len(ids), SELECT_CHUNK):
            chunk = ids[i:i + SELECT_CHUNK]
            rows, _ = self.platform.store.entities(ids=chunk, q=sub.q, geo=sub.geo, exclude_sources=hidden,
                                                   limit=len(chunk), count=False, scope=scope)
            out += [view.shown(e) for e in rows
                    if (not sub.entities or any(s.matches_id(e.id) and self.type_matches(s.type, e.type)
                                                for s in sub.entities))
                    and (view.unrestricted or any(view.attribute_visible(e, iri) for iri in changes[e.id]))]
        return out


def _tail(iri: str) -> str:
    """An IRI's last segment: the short name of an attribute no spec or write has named yet."""
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
