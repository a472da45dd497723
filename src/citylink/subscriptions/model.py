"""An NGSI-LD subscription (ETSI GS CIM 009, 5.2.12): a document checked member by member into a
:class:`Subscription`, and back into its representation.

    {"type": "Subscription", "entities": [{"type": "WasteContainer"}], "watchedAttributes": ["fillingLevel"],
     "q": "fillingLevel>0.8", "notification": {"format": "keyValues", "attributes": ["fillingLevel"],
     "endpoint": {"uri": "http://127.0.0.1:8000/notify", "accept": "application/json"}}, "throttling": 60}

Every mistake is an :class:`NgsiError` ``BadRequestData`` whose detail starts with the member at fault
(``notification.endpoint.uri: ...``), so a client can tell which; members NGSI-LD has and CityLink does
not do yet (periodic notifications, temporal and scope queries) are refused as ``OperationNotSupported``
rather than silently ignored.  The document is kept as normalised here (defaults written out, the id
generated); what the system keeps about it (status, delivery counters, who made it) is added on the way
out by :func:`representation`, and dropped on the way in, so a client may send back what it read.

A subscription acts for the API key that made it (its *owner*, kept beside the document; None for the
bootstrap admin key): what it names — ``watchedAttributes``, ``q``, ``notification.attributes``, ``geoQ`` —
counts only where the owner may see all of it (:meth:`Subscription.filtered`, as a query's filters do), so a
name the owner may never see is accepted and matches nothing rather than telling that such data exists.
"""
from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..api.problems import NgsiError
from ..clock import iso, to_us
from ..query import geo as geoquery
from ..query import qlang
from ..store.base import SubscriptionRow

FORMATS = ("normalized", "keyValues", "concise")
ACCEPTS = ("application/json", "application/ld+json")
MAX_ID = 256
MAX_TEXT = 2000
MAX_ITEMS = 100          # selectors, watched or notified attributes, receiverInfo entries
MAX_ID_PATTERN = 200
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_HOP_HEADERS = {"host", "content-length", "content-type", "transfer-encoding", "connection"}

# members the system keeps: shown by representation(), ignored when a client sends them back
SYSTEM_MEMBERS = ("status", "createdAt", "modifiedAt", "createdBy")
SYSTEM_NOTIFICATION_MEMBERS = ("status", "timesSent", "timesFailed", "lastNotification", "lastSuccess",
                               "lastFailure", "lastFailureReason")
NOT_SUPPORTED = ("timeInterval", "temporalQ", "scopeQ", "csf", "lang", "notificationTrigger", "datasetId",
                 "showChanges")
KNOWN = ("id", "type", "@context", "subscriptionName", "description", "entities", "watchedAttributes", "q", "geoQ",
         "notification", "throttling", "expiresAt", "isActive", "jsonldContext")


def bad(where: str, msg: str) -> NgsiError:
    return NgsiError("BadRequestData", f"{where}: {msg}")


@dataclass(frozen=True)
class EntitySelector:
    type: str
    id: str | None = None
    id_pattern: str | None = None

    def matches_id(self, entity_id: str) -> bool:
        if self.id is not None and entity_id != self.id:
            return False
        return self.id_pattern is None or re.fullmatch(self.id_pattern, entity_id) is not None


@dataclass
class Subscription:
    """A checked subscription: what the matcher and notifier decide by, and its document."""

    id: str
    doc: dict                                   # normalised; what the store keeps
    entities: list[EntitySelector] = field(default_factory=list)
    watched: frozenset[str] | None = None       # attribute names or IRIs; None: any
    q: Any = None                               # a qlang tree
    geo: geoquery.GeoQuery | None = None
    attributes: frozenset[str] | None = None    # notification.attributes; None: all
    format: str = "normalized"
    sys_attrs: bool = False
    uri: str = ""
    accept: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)   # receiverInfo
    throttling: float = 0.0                     # seconds between two notifications at least
    expires_at: int | None = None               # µs
    is_active: bool = True
    jsonld_context: str | None = None
    owner: str | None = None                    # the API key it acts for; None: the bootstrap admin

    def filtered(self) -> set[str]:
        """The attribute names it filters on: its notifications come only from the (service, type) pairs in
        which its owner may see every one of them (:meth:`citylink.access.View.scope`)."""
        return set(self.watched or ()) | (qlang.attributes(self.q) if self.q is not None else set()) \
            | set(self.attributes or ())

    def status(self, now_us: int) -> str:
        if self.expires_at is not None and self.expires_at <= now_us:
            return "expired"
        return "active" if self.is_active else "paused"

    def live(self, now_us: int) -> bool:
        return self.status(now_us) == "active"


def new_id() -> str:
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def parse(doc: Any, *, generate_id: bool = True) -> Subscription:
    """A subscription document → :class:`Subscription` (normalised, the id generated when absent)."""
    if not isinstance(doc, dict):
        raise bad("(body)", "a subscription is a JSON object")
    doc = {k: v for k, v in doc.items() if k not in SYSTEM_MEMBERS}
    for k in doc:
        if k in NOT_SUPPORTED:
            raise NgsiError("OperationNotSupported", f"{k}: not supported by this CityLink version (entities, "
                            "watchedAttributes, q, geoQ, throttling, expiresAt, isActive and notification are)")
        if k not in KNOWN:
            raise bad(k, f"not a member of a Subscription (known: {', '.join(KNOWN)})")
    out: dict[str, Any] = {}
    sid = doc.get("id")
    if sid is None and generate_id:
        sid = new_id()
    out["id"] = _uri_id("id", sid)
    if doc.get("type") != "Subscription":
        raise bad("type", f"must be \"Subscription\", not {_show(doc.get('type'))}")
    out["type"] = "Subscription"
    sub = Subscription(id=out["id"], doc=out)
    for k in ("subscriptionName", "description"):
        if k in doc:
            out[k] = _text(k, doc[k], MAX_TEXT)
    if "entities" in doc:
        out["entities"], sub.entities = _entities(doc["entities"])
    if "watchedAttributes" in doc:
        names = _names("watchedAttributes", doc["watchedAttributes"])
        out["watchedAttributes"], sub.watched = names, frozenset(names)
    if not sub.entities and sub.watched is None:
        raise bad("entities", "give entities or watchedAttributes (or both): what the subscription is about")
    if "q" in doc:
        text = _text("q", doc["q"], qlang.MAX_LENGTH)
        try:
            sub.q = qlang.parse(text)
        except qlang.QueryError as e:
            raise bad("q", str(e)) from None
        out["q"] = text
    if "geoQ" in doc:
        out["geoQ"], sub.geo = _geo_q(doc["geoQ"])
    out["notification"] = _notification(doc.get("notification"), sub)
    if "throttling" in doc:
        t = doc["throttling"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0 or t > 86_400 * 366:
            raise bad("throttling", f"{_show(t)} is not a number of seconds from 0 to a year")
        out["throttling"] = sub.throttling = t
    if doc.get("expiresAt") is not None:
        out["expiresAt"], sub.expires_at = _instant("expiresAt", doc["expiresAt"])
    active = doc.get("isActive", True)
    if not isinstance(active, bool):
        raise bad("isActive", f"{_show(active)} is not true or false")
    out["isActive"] = sub.is_active = active
    if "jsonldContext" in doc:
        out["jsonldContext"] = sub.jsonld_context = _url("jsonldContext", doc["jsonldContext"])
    return sub


def merge(doc: dict, fragment: Any) -> dict:
    """A stored document with a PATCH fragment (5.8.2): each member given replaces the one stored (null
    removes it); ``notification`` and its ``endpoint`` are merged member by member, so a fragment may change
    the format alone.  The result is checked whole by :func:`parse`."""
    if not isinstance(fragment, dict) or not fragment:
        raise bad("(body)", "a subscription fragment is a non-empty JSON object")
    if "id" in fragment and fragment["id"] != doc["id"]:
        raise bad("id", "a subscription's id cannot change")
    out = dict(doc)
    for k, v in fragment.items():
        if k in SYSTEM_MEMBERS or k == "@context":
            continue
        if k == "notification" and isinstance(v, dict) and isinstance(out.get(k), dict):
            note = dict(out[k])
            for nk, nv in v.items():
                if nk == "endpoint" and isinstance(nv, dict) and isinstance(note.get(nk), dict):
                    note[nk] = {**note[nk], **nv}
                else:
                    note[nk] = nv
            out[k] = {nk: nv for nk, nv in note.items() if nv is not None}
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = v
    out.setdefault("type", "Subscription")
    return out


def from_row(row: SubscriptionRow) -> Subscription:
    """A stored subscription, checked when it was kept: parsed again (the trees are not stored)."""
    sub = parse(row.body, generate_id=False)
    sub.owner = row.owner
    return sub


def representation(row: SubscriptionRow, now_us: int, *, sys_attrs: bool = False) -> dict:
    """The subscription as the API shows it: its document, its status, who created it, and how its
    notifications fared (members of ``notification``, as NGSI-LD's NotificationParams has them)."""
    body = dict(row.body)
    if row.expires_at is not None and row.expires_at <= now_us:
        body["status"] = "expired"
    else:
        body["status"] = "active" if row.is_active else "paused"
    note = dict(body.get("notification", {}))
    note["timesSent"] = row.times_sent
    note["timesFailed"] = row.times_failed
    for key, at in (("lastNotification", row.last_notification), ("lastSuccess", row.last_success),
                    ("lastFailure", row.last_failure)):
        if at is not None:
            note[key] = iso(at)
    if row.last_failure_reason:
        note["lastFailureReason"] = row.last_failure_reason   # a CityLink extension
    if row.last_notification is not None:
        note["status"] = "ok" if row.last_success == row.last_notification else "failed"
    body["notification"] = note
    body["createdBy"] = row.created_by                         # a CityLink extension
    if sys_attrs:
        body["createdAt"] = iso(row.created_at)
        body["modifiedAt"] = iso(row.modified_at)
    return body


# -- members ------------------------------------------------------------------------------------------
def _show(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(where: str, v: Any, max_len: int) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > max_len:
        raise bad(where, f"{_show(v)} is not a text of 1 to {max_len} characters")
    return v


def _uri_id(where: str, v: Any) -> str:
    """An entity or subscription id: a URI (``scheme:rest``)."""
    if not isinstance(v, str) or len(v) > MAX_ID or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", v):
        raise bad(where, f"{_show(v)} is not a URI such as urn:ngsi-ld:Subscription:my-subscription")
    return v


def _url(where: str, v: Any) -> str:
    if not isinstance(v, str) or len(v) > 2000:
        raise bad(where, f"{_show(v)} is not an http or https URL")
    try:
        parts = urlsplit(v)
        # reading .port raises ValueError for a port out of range (so does a bad IPv6 host above)
        ok = (parts.scheme in ("http", "https") and bool(parts.hostname) and v.isascii() and v.isprintable()
              and (parts.port is None or parts.port > 0))
    except ValueError:
        ok = False
    if not ok:
        raise bad(where, f"{_show(v)} is not an http or https URL (MQTT notifications are not supported yet)")
    return v


def _names(where: str, v: Any) -> list[str]:
    if not isinstance(v, list) or not v or len(v) > MAX_ITEMS:
        raise bad(where, f"give a list of 1 to {MAX_ITEMS} attribute names")
    for i, n in enumerate(v):
        if not isinstance(n, str) or not re.fullmatch(r"[^\s\"'<>;,()=]{1,300}", n):
            raise bad(f"{where}[{i}]", f"{_show(n)} is not an attribute name")
    return list(dict.fromkeys(v))


def _entities(v: Any) -> tuple[list[dict], list[EntitySelector]]:
    if not isinstance(v, list) or not v or len(v) > MAX_ITEMS:
        raise bad("entities", f"give a list of 1 to {MAX_ITEMS} entity selectors ({{type, id or idPattern}})")
    docs, sels = [], []
    for i, e in enumerate(v):
        where = f"entities[{i}]"
        if not isinstance(e, dict):
            raise bad(where, "an entity selector is an object: {type, id or idPattern}")
        extra = set(e) - {"type", "id", "idPattern"}
        if extra:
            raise bad(f"{where}.{sorted(extra)[0]}", "not a member of an entity selector (type, id, idPattern)")
        t = e.get("type")
        if not isinstance(t, str) or not re.fullmatch(r"[^\s\"'<>;,()=]{1,300}", t):
            raise bad(f"{where}.type", f"{_show(t)} is not an entity type")
        d: dict[str, str] = {"type": t}
        eid = pattern = None
        if e.get("id") is not None:
            d["id"] = eid = _uri_id(f"{where}.id", e["id"])
        if e.get("idPattern") is not None:
            pattern = e["idPattern"]
            if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_ID_PATTERN:
                raise bad(f"{where}.idPattern", f"give a regular expression of 1 to {MAX_ID_PATTERN} characters")
            try:
                re.compile(pattern)
            except re.error as err:
                raise bad(f"{where}.idPattern", f"{_show(pattern)} is not a regular expression: {err}") from None
            d["idPattern"] = pattern
        docs.append(d)
        sels.append(EntitySelector(t, eid, pattern))
    return docs, sels


def _geo_q(v: Any) -> tuple[dict, geoquery.GeoQuery]:
    if not isinstance(v, dict):
        raise bad("geoQ", "a geo-query is an object: {georel, geometry, coordinates, geoproperty}")
    extra = set(v) - {"georel", "geometry", "coordinates", "geoproperty"}
    if extra:
        raise bad(f"geoQ.{sorted(extra)[0]}",
                  "not a member of a geo-query (georel, geometry, coordinates, geoproperty)")
    coords = v.get("coordinates")
    if isinstance(coords, (list, tuple)):
        coords_text = json.dumps(coords)
    elif isinstance(coords, str) or coords is None:
        coords_text = coords
    else:
        raise bad("geoQ.coordinates", f"{_show(coords)} is not a JSON array of coordinates")
    for k in ("georel", "geometry", "geoproperty"):
        if v.get(k) is not None and not isinstance(v[k], str):
            raise bad(f"geoQ.{k}", f"{_show(v[k])} is not a text")
    try:
        q = geoquery.parse(v.get("georel"), v.get("geometry"), coords_text, v.get("geoproperty"))
    except geoquery.GeoError as e:
        raise bad("geoQ." + e.param, str(e).split(": ", 1)[-1]) from None
    if q is None:
        raise bad("geoQ.georel", "a geo-query needs georel, geometry and coordinates")
    doc = {"georel": v["georel"], "geometry": v["geometry"], "coordinates": json.loads(q.geojson)["coordinates"]}
    if v.get("geoproperty"):
        doc["geoproperty"] = v["geoproperty"]
    return doc, q


def _instant(where: str, v: Any) -> tuple[str, int]:
    if not isinstance(v, str) or len(v) > 64:
        raise bad(where, f"{_show(v)} is not an ISO 8601 date-time")
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            raise bad(where, f"{_show(v)} has no time zone (add Z or an offset)")
        us = to_us(dt)
    except (ValueError, OverflowError):
        raise bad(where, f"{_show(v)} is not an ISO 8601 date-time") from None
    return iso(us), us


def _notification(v: Any, sub: Subscription) -> dict:
    if not isinstance(v, dict):
        raise bad("notification", "required: an object with at least endpoint.uri")
    v = {k: x for k, x in v.items() if k not in SYSTEM_NOTIFICATION_MEMBERS}
    extra = set(v) - {"attributes", "format", "endpoint", "sysAttrs"}
    if extra:
        k = sorted(extra)[0]
        if k in ("showChanges", "join", "joinLevel"):
            raise NgsiError("OperationNotSupported", f"notification.{k}: not supported by this CityLink version")
        raise bad(f"notification.{k}", "not a member of notification (attributes, format, endpoint, sysAttrs)")
    out: dict[str, Any] = {}
    if "attributes" in v:
        names = _names("notification.attributes", v["attributes"])
        out["attributes"], sub.attributes = names, frozenset(names)
    fmt = v.get("format", "normalized")
    if fmt not in FORMATS:
        raise bad("notification.format", f"{_show(fmt)} is not one of {', '.join(FORMATS)}")
    out["format"] = sub.format = fmt
    if "sysAttrs" in v:
        if not isinstance(v["sysAttrs"], bool):
            raise bad("notification.sysAttrs", f"{_show(v['sysAttrs'])} is not true or false")
        out["sysAttrs"] = sub.sys_attrs = v["sysAttrs"]
    ep = v.get("endpoint")
    if not isinstance(ep, dict):
        raise bad("notification.endpoint", "required: an object with uri (and accept, receiverInfo)")
    extra = set(ep) - {"uri", "accept", "receiverInfo"}
    if extra:
        k = sorted(extra)[0]
        if k == "notifierInfo":
            raise NgsiError("OperationNotSupported", "notification.endpoint.notifierInfo: not supported (MQTT)")
        raise bad(f"notification.endpoint.{k}", "not a member of endpoint (uri, accept, receiverInfo)")
    endpoint: dict[str, Any] = {"uri": _url("notification.endpoint.uri", ep.get("uri"))}
    sub.uri = endpoint["uri"]
    accept = ep.get("accept", "application/json")
    if accept not in ACCEPTS:
        raise bad("notification.endpoint.accept", f"{_show(accept)} is not one of {', '.join(ACCEPTS)}")
    endpoint["accept"] = sub.accept = accept
    if "receiverInfo" in ep:
        info = ep["receiverInfo"]
        if not isinstance(info, list) or len(info) > MAX_ITEMS:
            raise bad("notification.endpoint.receiverInfo", "a list of {key, value} objects (HTTP headers)")
        for i, kv in enumerate(info):
            where = f"notification.endpoint.receiverInfo[{i}]"
            if not isinstance(kv, dict) or set(kv) != {"key", "value"}:
                raise bad(where, "an object with key and value (an HTTP header sent with each notification)")
            key, value = kv["key"], kv["value"]
            if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key) or key.lower() in _HOP_HEADERS:
                raise bad(f"{where}.key", f"{_show(key)} is not an HTTP header name CityLink can send")
            if not isinstance(value, str) or len(value) > 4000 or not (value.isascii() and value.isprintable()):
                raise bad(f"{where}.value", "a header value: printable ASCII text, up to 4,000 characters")
            sub.headers[key] = value
        endpoint["receiverInfo"] = [{"key": k, "value": x} for k, x in sub.headers.items()]
    out["endpoint"] = endpoint
    return out
