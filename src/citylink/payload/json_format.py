"""JSON (one object or an array of objects) and JSON lines."""
from __future__ import annotations

import json
import re
from typing import Iterator

import orjson

from . import register
from .base import PayloadProblem, text_of

_decoder = json.JSONDecoder()


def _records_at(doc, cfg: dict) -> list[dict]:
    path = cfg.get("records")
    if path:
        node = doc
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise PayloadProblem("no_records", f"no list at payload.records path {path!r}")
        if not isinstance(node, list):
            raise PayloadProblem("no_records", f"payload.records path {path!r} is not a list")
        # each record sees the message root as '$'
        return [dict(r, **{"$": doc}) if isinstance(r, dict) else {"$": doc, "value": r} for r in node]
    if isinstance(doc, list):
        return [r if isinstance(r, dict) else {"value": r} for r in doc]
    if isinstance(doc, dict):
        return [doc]
    raise PayloadProblem("malformed_json", f"expected a JSON object, got {type(doc).__name__}")


def _loads(text: str, line: int | None = None):
    """The standard parser, with every refusal as ``malformed_json`` (it raises a bare ValueError for an
    integer of more than 4300 digits, and it accepts lone surrogate escapes, which are no text).
    ``line``: the text is that line of a JSON-lines message."""
    where = f"line {line}" if line else None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise PayloadProblem("malformed_json", f"not valid JSON: {e.msg}",
                             f"line {line} column {e.colno}" if line else _where(e.doc, e.pos)) from None
    except ValueError as e:
        raise PayloadProblem("malformed_json", f"not valid JSON: {e}", where) from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            raise PayloadProblem("malformed_json", f"not valid JSON: {e.object[e.start:e.end]!r} is a lone "
                                 "surrogate, not a character", where) from None
    return doc


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {col}"


class JsonFormat:
    name = "json"

    def decode(self, body: bytes, cfg: dict) -> list[dict]:
        enc = cfg.get("encoding", "utf-8").lower().replace("_", "-")
        try:
            doc = orjson.loads(body) if enc in ("utf-8", "utf8") else _loads(text_of(body, cfg))
        except orjson.JSONDecodeError:
            # orjson refuses some valid JSON (integers beyond 64 bits): the standard parser decides,
            # and names the position when the text really is malformed
            doc = _loads(text_of(body, cfg))
        return _records_at(doc, cfg)

    def split(self, data: bytes, cfg: dict) -> Iterator[tuple[bytes, dict]]:
        """A top-level array becomes one message per element (exact bytes); anything else, one message.
        Nothing at all (no bytes, or only white space) is no message."""
        if not data.strip():
            return
        enc = cfg.get("encoding", "utf-8")
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            yield data, {}
            return
        i = _skip_ws(text, 0)
        if i >= len(text) or text[i] != "[" or cfg.get("records"):
            yield data, {}
            return
        spans = []
        i = _skip_ws(text, i + 1)
        try:
            if i < len(text) and text[i] == "]":
                i += 1
            else:
                while True:
                    _, end = _decoder.raw_decode(text, i)
                    spans.append((i, end))
                    i = _skip_ws(text, end)
                    if i < len(text) and text[i] == ",":
                        i = _skip_ws(text, i + 1)
                        continue
                    if i < len(text) and text[i] == "]":
                        i += 1
                        break
                    raise ValueError
            if _skip_ws(text, i) != len(text):
                raise ValueError
        except ValueError:
            yield data, {}  # malformed: archived whole; the normalizer says where it breaks
            return
        n = len(spans)
        for k, (a, b) in enumerate(spans):
            yield text[a:b].encode(enc), {"batch_index": k, "batch_size": n}


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


class JsonLinesFormat:
    name = "jsonl"

    def decode(self, body: bytes, cfg: dict) -> list[dict]:
        out = []
        text = text_of(body, cfg)
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            doc = _loads(line, n)
            out.extend(_records_at(doc, cfg))
        if not out:
            raise PayloadProblem("no_records", "the message has no JSON lines")
        return out

    def split(self, data: bytes, cfg: dict) -> Iterator[tuple[bytes, dict]]:
        for n, line in enumerate(data.splitlines(), 1):
            if line.strip():
                yield line, {"line": n}


register(JsonFormat())
register(JsonLinesFormat())
