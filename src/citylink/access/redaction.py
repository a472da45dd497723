"""What the raw archive and the quarantine show: vendors' messages as they arrived, with the fields that
feed a ``personal`` attribute (a plate, a household number) replaced by their pseudonym — the same keyed
hash the store holds, so a redacted message still joins with the entity's history.

A message is shown as the records its source's payload format reads from it (the bytes themselves would
carry the plate).  A source with no personal attribute shows its body as it came.  When the records cannot
be read (a malformed message in the quarantine), or a personal attribute is computed by an expression
(whose inputs cannot be told apart), the body is withheld: only an admin's audited read shows it.  The
quarantine's problems get the same treatment: a problem about a personal field shows its pseudonym."""
from __future__ import annotations

import base64
from typing import Callable

from .. import payload
from ..payload.base import PayloadProblem

ROOT = "$"   # the message root a record may carry (payload.records): never shown, it holds every field


class SourceRedaction:
    """The personal fields of one source: the payload paths they are read from."""

    def __init__(self, src, svc, pz: Callable[[str], str]):
        self.source = src
        et = svc.entity_types[src.entity_type]
        self.personal = sorted(n for n, a in et.attributes.items() if a.personal and n in src.fields)
        self.paths: list[list] = []
        self.opaque: list[str] = []      # personal attributes computed otherwise than from one field
        for name in self.personal:
            m = src.fields[name]
            if "from" in m:
                self.paths.append([int(p) if p.isdigit() else p for p in m["from"].split(".")])
            elif "value" not in m:
                self.opaque.append(name)
        self.pz = pz

    def message(self, body: bytes) -> dict:
        """The view of one raw message's body: ``records`` (redacted) or ``body`` (nothing personal), or
        ``withheld`` saying why neither is shown."""
        if not self.personal:
            return _body(body)
        if self.opaque:
            return {"withheld": f"{', '.join(self.opaque)} (personal) are computed from several fields; "
                                f"the message is shown to admins only, through an audited read"}
        try:
            records = payload.get(self.source.payload["format"]).decode(body, self.source.payload)
        except (PayloadProblem, ValueError) as e:
            return {"withheld": f"the message cannot be read as {self.source.payload['format']} ({e}), so its "
                                f"personal fields ({', '.join(self.personal)}) cannot be redacted; it is shown "
                                f"to admins only, through an audited read"}
        return {"records": [self._record(r) for r in records], "redacted": self.personal}

    def _record(self, rec: dict) -> dict:
        out = {k: v for k, v in rec.items() if k != ROOT}
        for path in self.paths:
            if path[0] != ROOT:   # a field read from the root is not shown at all
                _replace(out, path, self.pz)
        return out

    def problems(self, problems: list[dict]) -> list[dict]:
        """A quarantined message's problems, with a personal field's value (and its mentions) pseudonymised."""
        out = []
        for p in problems:
            if p.get("field") in self.personal and p.get("value") is not None:
                raw, pseudonym = str(p["value"]), self.pz(str(p["value"]))
                p = dict(p, value=pseudonym, detail=str(p.get("detail", "")).replace(raw, pseudonym))
            out.append(p)
        return out


def _replace(node, path: list, pz) -> None:
    """Replace the value at ``path`` in place (the record was decoded for this view alone): a value by its
    pseudonym, a list or an object by a mark."""
    *parents, last = path
    for p in parents:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return
    try:
        if node[last] is not None and not isinstance(node[last], (dict, list)):
            node[last] = pz(str(node[last]))
        elif node[last] is not None:
            node[last] = "[personal]"
    except (KeyError, IndexError, TypeError):
        return


def _body(body: bytes) -> dict:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode()}


def unredacted(body: bytes) -> dict:
    """An admin's audited read: the body as it came."""
    return _body(body)
