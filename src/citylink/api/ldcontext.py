"""The @context of a request (ETSI GS CIM 009, 5.5.7 and 6.3.5), resolved once into term maps.

A client names its @context in a ``Link`` header (rel ``http://www.w3.org/ns/json-ld#context``) or, for an
``application/ld+json`` body, in the body's ``@context`` member; both at once is a BadRequestData, and so is
an ``@context`` in a plain ``application/json`` body.  A request that names none uses **CityLink's own
context** (:func:`citylink.api.context.document`: the specs' terms, then the NGSI-LD core context), because
that is the vocabulary CityLink stores and has always answered in; the core context alone would turn every
CityLink term into a ``default-context`` IRI that matches nothing stored.

Contexts are processed by pyld (JSON-LD 1.1: arrays, remote and nested contexts, ``@vocab``, prefixes,
protected and type-scoped terms) **once per distinct context**; the result is a :class:`TermMap` of plain
dicts, so what a request does per name is a dictionary lookup.  Term maps are kept in a bounded LRU cache
with a time to live, and CityLink's own map is rebuilt only when the specs in force change
(``platform.revision``).

pyld never goes to the network itself: its document loader serves the bundled contexts (the ETSI core
context, ``data/contexts/``; CityLink's, generated from the specs) and fetches any other URL with httpx,
with a timeout and a TTL cache.  A URL that cannot be fetched, or that is not a JSON-LD context, is the
standard ``LdContextNotAvailable`` (503) naming the URL.

Type-scoped terms: CityLink's context maps ``status`` of a WasteContainer and of a ParkingSpot to two
Smart Data Models IRIs inside each type's scoped context.  The core context protects ``status``, and JSON-LD
1.1 lets only property-scoped contexts redefine protected terms, so a strict processor refuses these
redefinitions; CityLink honours them on purpose (its stored data depend on them) by processing type-scoped
contexts with protection overridden.  ``expand(term, type=...)`` and ``compact(iri, type=...)`` use them.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import httpx
import orjson
from pyld import jsonld
from pyld.context_resolver import ContextResolver

from ..spec.model import CITYLINK_CONTEXT_URL, NGSI_LD_CORE, NGSI_LD_CORE_CONTEXT_URL
from . import context
from .problems import NgsiError

__all__ = ["CONTEXT_REL", "CORE_PATH", "Contexts", "Renamer", "TermMap", "linked_context", "of", "stored_name"]

CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
CORE_PATH = "/ngsi-ld/v1/jsonldContexts/core"
LOCATION = NGSI_LD_CORE + "location"
MAX_CONTEXT_BYTES = 1_048_576
MAX_TERM_MAPS = 128          # distinct contexts kept resolved
MAX_DOCUMENTS = 256          # fetched context documents kept
MAX_MEMO = 4096              # names remembered per term map (clients may send any name)

# Bundled contexts: canonical URL → file in citylink/data/contexts (served locally, never fetched).
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "contexts"
# The unversioned URL is the spec's name for "the current core context", and what most clients (e.g.
# ngsildclient) send; the bundled v1.8 file answers for it too.
BUNDLED = {NGSI_LD_CORE_CONTEXT_URL: "ngsi-ld-core-context-v1.8.jsonld",
           "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld": "ngsi-ld-core-context-v1.8.jsonld"}
# Paths of this server that are CityLink's own contexts, whatever host name the client used.
LOCAL_PATHS = {context.CONTEXT_PATH: CITYLINK_CONTEXT_URL, CORE_PATH: NGSI_LD_CORE_CONTEXT_URL}

_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,]+)*)')
_OPTIONS = {"processingMode": "json-ld-1.1", "base": ""}


class ContextNotAvailable(Exception):
    """A context URL that could not be fetched, or whose document is not a JSON-LD context."""

    def __init__(self, url: str, why: str):
        super().__init__(f"{url}: {why}")
        self.url = url
        self.why = why


def bundled(name: str) -> dict:
    return orjson.loads((BUNDLED_DIR / name).read_bytes())


class TermMap:
    """One resolved @context as dictionaries: term → IRI, IRI → shortest term, and the same per type
    for type-scoped terms.  ``link`` is the URL to echo in a response's Link header (None when the
    context was given inline); ``context`` is the @context value as the client gave it."""

    def __init__(self, active: dict, *, link: str | None, context: Any,
                 scoped: dict[str, "TermMap"] | None = None):
        self.link = link
        self.context = context
        self._vocab: str | None = active.get("@vocab")
        self._iri: dict[str, str] = {}
        self._prefixes: dict[str, str] = {}
        self._term: dict[str, str] = {}
        for term, d in active.get("mappings", {}).items():
            iri = d.get("@id") if d else None
            if not iri or d.get("reverse"):
                continue
            self._iri[term] = iri
            if d.get("_prefix"):
                self._prefixes[term] = iri
            if iri.startswith("@"):
                continue
            best = self._term.get(iri)
            if best is None or (len(term), term) < (len(best), best):
                self._term[iri] = term
        self._scoped = scoped or {}          # type IRI → the map in force inside entities of that type
        self._expanded: dict[str, str] = {}  # memo for names not in the maps (compact IRIs, @vocab terms)

    def expand(self, term: str, type: str | None = None) -> str:
        """Term → IRI (vocabulary expansion).  IRIs pass through, compact IRIs (``prefix:suffix``) are
        expanded, unknown terms get the context's ``@vocab`` (the core context's default-context IRI)."""
        if type is not None:
            scoped = self._scoped.get(self.expand(type))
            if scoped is not None:
                return scoped.expand(term)
        iri = self._iri.get(term)
        if iri is not None:
            return iri
        hit = self._expanded.get(term)
        if hit is None:
            hit = self._expand_other(term)
            if len(self._expanded) >= MAX_MEMO:
                self._expanded.clear()
            self._expanded[term] = hit
        return hit

    def _expand_other(self, term: str) -> str:
        prefix, colon, rest = term.partition(":")
        if colon:
            if prefix in self._prefixes and not rest.startswith("//"):
                return self._prefixes[prefix] + rest
            return term  # an absolute IRI or a URN
        if self._vocab and not term.startswith("@"):
            return self._vocab + term
        return term

    def compact(self, iri: str, type: str | None = None) -> str:
        """IRI → the shortest term of this context for it (inside the type's scoped context when a type
        is given; without one, a term that only a type-scoped context has still counts, as CityLink
        stores such names), a term relative to ``@vocab``, else the IRI itself."""
        if type is not None:
            scoped = self._scoped.get(self.expand(type))
            if scoped is not None:
                return scoped.compact(iri)  # it holds every term in force inside that type
        hit = self._term.get(iri)
        if hit is not None:
            return hit
        if type is None:
            for scoped in self._scoped.values():
                hit = scoped._term.get(iri)
                if hit is not None:
                    return hit
        if self._vocab and iri.startswith(self._vocab):
            rest = iri[len(self._vocab):]
            if rest and ":" not in rest and "/" not in rest and rest not in self._iri:
                return rest
        return iri

    def __repr__(self) -> str:
        return f"TermMap({self.link or 'inline'}, {len(self._iri)} terms, {len(self._scoped)} scoped types)"


def of(request) -> "Contexts":
    """The application's Contexts (made on first use when the app did not make one)."""
    state = request.app.state
    contexts = getattr(state, "contexts", None)
    if contexts is None:
        contexts = state.contexts = Contexts(state.platform)
    return contexts


def stored_name(iri: str, contexts: "Contexts") -> str:
    """The short name CityLink stores for an IRI: its term in CityLink's context, else the IRI."""
    return contexts.default.compact(iri)


class Renamer:
    """Stored names → the names of a request's context, for rendering.  Stored entity types are
    CityLink's terms (or IRIs); stored attribute rows carry their IRI.  Memoized: per attribute, one
    dictionary lookup."""

    def __init__(self, terms: TermMap, default: TermMap):
        self.terms = terms
        self.default = default
        self._types: dict[str, tuple[str, str]] = {}
        self._attrs: dict[tuple[str, str | None], str] = {}

    def _type(self, stored: str) -> tuple[str, str]:
        hit = self._types.get(stored)
        if hit is None:
            iri = self.default.expand(stored)
            hit = self._types[stored] = (iri, self.terms.compact(iri))
        return hit

    def type(self, stored: str) -> str:
        return self._type(stored)[1]

    def attr(self, iri: str, stored_type: str | None = None) -> str:
        key = (iri, stored_type)
        hit = self._attrs.get(key)
        if hit is None:
            tiri = self._type(stored_type)[0] if stored_type else None
            hit = self._attrs[key] = self.terms.compact(iri, tiri)
        return hit


class _TTLCache:
    """A bounded LRU of values that expire ``ttl`` seconds after they were put."""

    def __init__(self, size: int, ttl: float):
        self.size, self.ttl = size, ttl
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if hit[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Contexts:
    """The @contexts of one application (``app.state.contexts``): CityLink's own, and the clients' ones,
    resolved once and cached."""

    def __init__(self, platform, *, timeout: float = 5.0, ttl: float = 600.0,
                 fetch: Callable[[str, float], bytes] | None = None):
        self.platform = platform
        self.timeout = timeout
        self.ttl = ttl
        self._fetch_bytes = fetch or _http_get
        self._maps = _TTLCache(MAX_TERM_MAPS, ttl)
        self._documents = _TTLCache(MAX_DOCUMENTS, ttl)
        self._bundled = {url: bundled(name) for url, name in BUNDLED.items()}
        self._default: TermMap | None = None
        self._default_revision: int | None = None
        self._citylink_doc: dict | None = None
        self._core = self._build(NGSI_LD_CORE_CONTEXT_URL, link=NGSI_LD_CORE_CONTEXT_URL)

    # -- CityLink's own ----------------------------------------------------------------------------
    @property
    def default(self) -> TermMap:
        """CityLink's context (its specs' terms + the core context), rebuilt when the specs change.  Its
        ``link`` is the canonical CITYLINK_CONTEXT_URL; a response to a request links this server's copy."""
        rev = self.platform.revision
        if self._default is None or rev != self._default_revision:
            doc = context.document(self.platform.specs)
            self._citylink_doc = doc
            self._default = self._build(doc["@context"], link=CITYLINK_CONTEXT_URL)
            self._default_revision = rev
        return self._default

    def core_document(self) -> dict:
        return self._bundled[NGSI_LD_CORE_CONTEXT_URL]

    # -- a request's -------------------------------------------------------------------------------
    async def for_request(self, request, body: dict | list | None = None) -> TermMap:
        """The request's context: its ``Link`` header, or its ``application/ld+json`` body's @context,
        else CityLink's.  Raises NgsiError (BadRequestData, LdContextNotAvailable)."""
        link = linked_context(request)
        ld_body = "application/ld+json" in request.headers.get("content-type", "")
        if ld_body and link is not None:
            raise NgsiError("BadRequestData", "Link: a JSON-LD context link is not allowed with Content-Type "
                                              "application/ld+json (put the @context in the body)")
        if body is not None:
            ctx = _body_context(body)
            if ctx is not None and not ld_body:
                raise NgsiError("BadRequestData", "@context: not allowed in an application/json body (send it "
                                                  "as Content-Type application/ld+json, or in a Link header)")
            if ld_body:
                if ctx is None:
                    raise NgsiError("BadRequestData", "@context: an application/ld+json body must have one")
                return await self.resolve(self._local(ctx, request), where="@context")
        if link is None:
            return self.default
        return await self.resolve(self._local(link, request), where="Link")

    def _local(self, ctx: Any, request) -> Any:
        """This server's own context URLs (under any host name it was called by) → their canonical URLs."""
        if isinstance(ctx, list):
            return [self._local(c, request) for c in ctx]
        if isinstance(ctx, str):
            url = httpx.URL(ctx) if ctx.startswith(("http://", "https://")) else None
            if url is not None and url.path in LOCAL_PATHS and url.netloc.decode() == request.url.netloc:
                return LOCAL_PATHS[url.path]
        return ctx

    async def resolve(self, ctx: Any, *, where: str = "@context") -> TermMap:
        """A @context value (URL, object, or array of them) → its TermMap, from the cache or built in a
        worker thread (building may fetch)."""
        if ctx == CITYLINK_CONTEXT_URL or ctx == [CITYLINK_CONTEXT_URL]:
            return self.default
        if ctx == NGSI_LD_CORE_CONTEXT_URL:
            return self._core
        key = ctx if isinstance(ctx, str) else orjson.dumps(ctx, option=orjson.OPT_SORT_KEYS)
        hit = self._maps.get(key)
        if hit is not None:
            return hit
        _check_shape(ctx, where)
        tm = await asyncio.to_thread(self.build, ctx, where)
        self._maps.put(key, tm)
        return tm

    def build(self, ctx: Any, where: str = "@context") -> TermMap:
        """Process a @context with pyld; errors as NgsiError naming ``where`` (and the URL at fault)."""
        link = ctx if isinstance(ctx, str) else None
        try:
            return self._build(ctx, link=link)
        except jsonld.JsonLdError as e:
            missing = _cause(e, ContextNotAvailable)
            if missing is not None:
                raise NgsiError("LdContextNotAvailable",
                                f"{where}: the @context {missing.url} is not available: {missing.why}") from None
            if link is not None:
                raise NgsiError("LdContextNotAvailable",
                                f"{where}: the @context {link} is not a valid JSON-LD context: {_reason(e)}") from None
            raise NgsiError("BadRequestData", f"{where}: not a valid JSON-LD context: {_reason(e)}") from None

    def _build(self, ctx: Any, *, link: str | None) -> TermMap:
        proc = jsonld.JsonLdProcessor()
        options = dict(_OPTIONS, documentLoader=self._load)
        options["contextResolver"] = ContextResolver({}, self._load)  # pyld's shared cache would outlive our TTL
        active = proc.process_context(proc.process_context(None, None, dict(_OPTIONS)), ctx, options)
        scoped = {}
        for term, d in active.get("mappings", {}).items():
            if d and "@context" in d and d.get("@id") and not d["@id"].startswith("@"):
                # type-scoped: protection overridden on purpose (see the module's docstring)
                inner = proc._process_context(active, d["@context"], options, override_protected=True)
                scoped[d["@id"]] = TermMap(inner, link=link, context=ctx)
        return TermMap(active, link=link, context=ctx, scoped=scoped)

    # -- pyld's document loader -------------------------------------------------------------------
    def _load(self, url: str, options: dict | None = None) -> dict:
        """Bundled contexts from the package, CityLink's from the specs, the rest over HTTP (cached)."""
        doc = self._bundled.get(url)
        if doc is None and url == CITYLINK_CONTEXT_URL:
            doc = self._citylink_doc or context.document(self.platform.specs)
        if doc is None:
            doc = self._documents.get(url)
        if doc is None:
            doc = self._fetch(url)
            self._documents.put(url, doc)
        return {"contextUrl": None, "documentUrl": url, "document": doc}

    def _fetch(self, url: str) -> dict:
        if not url.startswith(("http://", "https://")):
            raise ContextNotAvailable(url, "only http and https URLs are fetched")
        try:
            raw = self._fetch_bytes(url, self.timeout)
        except httpx.TimeoutException:
            raise ContextNotAvailable(url, f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as e:
            raise ContextNotAvailable(url, str(e) or type(e).__name__) from None
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ContextNotAvailable(url, "the document is not JSON") from None
        if not isinstance(doc, dict) or "@context" not in doc:
            raise ContextNotAvailable(url, "the document has no @context member")
        return doc


def _http_get(url: str, timeout: float) -> bytes:
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        with client.stream("GET", url, headers={"Accept": "application/ld+json, application/json"}) as r:
            if r.status_code != 200:
                raise httpx.HTTPStatusError(f"HTTP {r.status_code}", request=r.request, response=r)
            out = b""
            for chunk in r.iter_bytes():
                out += chunk
                if len(out) > MAX_CONTEXT_BYTES:
                    raise httpx.HTTPError(f"larger than {MAX_CONTEXT_BYTES} bytes")
            return out


def linked_context(request) -> str | None:
    """The URL of the JSON-LD context link among a request's Link headers (None: there is none), not
    resolved.  Raises NgsiError for two context links or one that is not an absolute http(s) URL."""
    found = []
    for value in request.headers.getlist("link"):
        for m in _LINK.finditer(value or ""):
            params = {k.strip().lower(): v.strip().strip('"') for k, _, v in
                      (p.partition("=") for p in m.group(2).split(";") if p.strip())}
            if CONTEXT_REL in params.get("rel", "").split():
                found.append(m.group(1).strip())
    if not found:
        return None
    if len(found) > 1:
        raise NgsiError("BadRequestData", "Link: more than one JSON-LD context link")
    url = found[0]
    if not url.startswith(("http://", "https://")):
        raise NgsiError("BadRequestData", f"Link: the @context {url!r} is not an absolute http(s) URL")
    return url


def _body_context(body: dict | list) -> Any:
    """A body's @context (a batch: the one its entities share)."""
    if isinstance(body, dict):
        return body.get("@context")
    ctxs = [b.get("@context") for b in body if isinstance(b, dict)]
    given = [c for c in ctxs if c is not None]
    if not given:
        return None
    if len(given) != len(ctxs) or any(c != given[0] for c in given):
        raise NgsiError("BadRequestData", "@context: the entities of one request must share one @context")
    return given[0]


def _check_shape(ctx: Any, where: str) -> None:
    items = ctx if isinstance(ctx, list) else [ctx]
    for c in items:
        if isinstance(c, str):
            if not c.startswith(("http://", "https://")):
                raise NgsiError("BadRequestData", f"{where}: {c!r} is not an absolute http(s) URL")
        elif not isinstance(c, dict) and c is not None:
            raise NgsiError("BadRequestData", f"{where}: give a URL, an object or an array of them")


def _cause(e: BaseException, kind: type):
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, kind):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__ or getattr(e, "cause", None)
    return None


def _reason(e: jsonld.JsonLdError) -> str:
    code = getattr(e, "code", None)
    msg = str(e.args[0]) if e.args else str(e)
    return f"{msg} ({code})" if code else msg
