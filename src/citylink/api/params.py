"""Query parameters read the same way on every route: a refusal names the parameter at fault."""
from __future__ import annotations

from ..clock import parse_iso
from .problems import NgsiError


def time(name: str, text: str | None) -> int | None:
    """An ISO 8601 date-time with a time zone → µs (None when not given); a 400 that names ``name``."""
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError as e:
        raise NgsiError("BadRequestData", f"{name}: {e}") from None
