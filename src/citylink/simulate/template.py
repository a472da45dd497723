"""Message templates: how one vendor writes what a model measured.

A template is the vendor's message with some leaves replaced by expressions: a string that starts
with ``=`` is evaluated (simpleeval, the same safe language as the specs' computed fields); any other
value is written as it is.  Templates are compiled once; rendering walks the compiled tree.

Names an expression may use: the model's outputs (``level``, ``co2``, …), ``device`` (the registry
entry: ``local_id``, ``name``, ``lon``, ``lat`` and its attributes), ``t`` (the reading's time, µs UTC),
``n`` (this device's message number), ``seq`` (this source's message number), and in a ``group``
envelope ``records`` and ``group``.  Functions: the specs' ones plus the time writers (``iso``, ``iso_ns``,
``iso_kst``, ``local``, ``utc``, ``epoch_s``, ``epoch_ms``, and ``local24`` for Korean tables that write
midnight as 24:00), ``uuid()``, ``hex(n)``, ``pick(a, b, …)`` and ``lorawan(**fields)`` — the source
spec's own LoRaWAN decoder run backwards.
"""
from __future__ import annotations

import base64
import random
import uuid as _uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import simpleeval

from ..payload.lorawan_format import encode_bytes, encode_cayenne_lpp
from ..spec.expr import FUNCTIONS
from .world import KST


class TemplateError(ValueError):
    def __init__(self, path: tuple, msg: str):
        super().__init__(msg)
        self.path = path


def _dt(t: int, tz) -> datetime:
    return datetime.fromtimestamp(t / 1e6, tz)


TIME_FUNCTIONS: dict[str, Callable] = {
    "iso": lambda t: _dt(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t // 1000 % 1000:03d}Z",
    "iso_ns": lambda t: _dt(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t % 1_000_000:06d}000Z",
    "iso_kst": lambda t: _dt(t, KST).isoformat(timespec="seconds"),
    "local": lambda t, fmt="%Y-%m-%dT%H:%M:%S": _dt(t, KST).strftime(fmt),
    "utc": lambda t, fmt="%Y-%m-%dT%H:%M:%SZ": _dt(t, timezone.utc).strftime(fmt),
    "epoch_s": lambda t: t // 1_000_000,
    "epoch_ms": lambda t: t // 1000,
}


class Renderer:
    """Compiled templates of one source; ``rng`` makes ``uuid()`` and ``pick()`` deterministic."""

    def __init__(self, rng: random.Random, lorawan: dict | None = None):
        self.rng = rng
        self.lorawan = lorawan
        functions = dict(FUNCTIONS, **TIME_FUNCTIONS, uuid=self._uuid, hex=lambda n, width=8: f"{int(n):0{width}x}",
                         pick=lambda *xs: self.rng.choice(xs), lorawan=self._lorawan, local24=local24)
        self._ev = simpleeval.EvalWithCompoundTypes(functions=functions)

    def _uuid(self) -> str:
        return str(_uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _lorawan(self, **fields) -> str:
        if not self.lorawan:
            raise ValueError("lorawan(): the source's payload is not LoRaWAN")
        dec = self.lorawan["decoder"]
        raw = encode_bytes(fields, dec["fields"]) if dec["type"] == "bytes" else encode_cayenne_lpp(fields)
        return base64.b64encode(raw).decode()

    def compile(self, template: Any, path: tuple = ()) -> Callable[[dict], Any]:
        if isinstance(template, dict):
            parts = [(k, self.compile(v, path + (k,))) for k, v in template.items()]
            return lambda names: {k: f(names) for k, f in parts}
        if isinstance(template, list):
            items = [self.compile(v, path + (i,)) for i, v in enumerate(template)]
            return lambda names: [f(names) for f in items]
        if isinstance(template, str) and template.startswith("="):
            text = template[1:].strip()
            try:
                tree = self._ev.parse(text)
            except SyntaxError as e:
                raise TemplateError(path, f"syntax error in {text!r}: {e.msg}") from None
            ev = self._ev

            def evaluate(names, text=text, tree=tree):
                ev.names = names
                try:
                    return ev.eval(text, previously_parsed=tree)
                except simpleeval.NameNotDefined as e:
                    raise TemplateError(path, f"unknown name {e.name!r} in {text!r} "
                                              f"(available: {', '.join(sorted(names))})") from None
                except Exception as e:  # noqa: BLE001 - any failure of a template is the profile's mistake
                    raise TemplateError(path, f"{text!r} failed: {type(e).__name__}: {e}") from None
            return evaluate
        return lambda names, v=template: v


def local24(t: int, fmt: str) -> str:
    """Local time written the Korean way, where midnight ends the day before: at 00:00 exactly, the
    previous date with the hour 24 (``local24(t, '%Y-%m-%d %H:%M')`` → ``2026-11-25 24:00``)."""
    dt = _dt(t, KST)
    if dt.hour == dt.minute == dt.second == 0:
        return (dt - timedelta(days=1)).strftime(fmt.replace("%H", "24"))
    return dt.strftime(fmt)
