"""Request bodies: JSON documents (``application/json``, ``application/ld+json``, merge-patch) read under a
size cap, with mistakes answered in the NGSI-LD problem form naming the header or the body; any body read
under a cap (a vendor's message, a sample payload)."""
from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from .problems import NgsiError

JSON_TYPES = ("application/json", "application/ld+json", "application/merge-patch+json")


async def json_body(request: Request, max_bytes: int) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise NgsiError("InvalidRequest", f"Content-Type: {media or 'none'} is not application/json or "
                                          "application/ld+json", 415)
    raw = await request.body()
    if len(raw) > max_bytes:
        raise NgsiError("BadRequestData", f"body: larger than {max_bytes:,} bytes", 413)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise NgsiError("InvalidRequest", f"body: not JSON ({e})") from None


def read_limited(request: Request, limit: int) -> bytes | None:
    """Read the body of a sync route (from its worker thread) without holding more than ``limit`` + one chunk;
    None when it is longer."""
    import anyio

    async def read():
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    return anyio.from_thread.run(read)
