from __future__ import annotations


class PayloadProblem(ValueError):
    """A raw message that cannot be read as its declared format.

    ``type`` is the quarantine slug (``malformed_json``, ``undecodable_text``, …);
    ``where`` names the position (``line 3 column 17``) when known.
    """

    def __init__(self, type: str, detail: str, where: str | None = None):
        self.type = type
        self.where = where
        super().__init__(f"{detail} at {where}" if where else detail)


def text_of(body: bytes, cfg: dict) -> str:
    enc = cfg.get("encoding", "utf-8")
    try:
        return body.decode(enc)
    except UnicodeDecodeError as e:
        raise PayloadProblem("undecodable_text",
                             f"bytes {body[e.start:e.end]!r} are not valid {enc} (payload.encoding)",
                             f"byte {e.start}") from None
    except LookupError:
        raise PayloadProblem("undecodable_text", f"unknown text encoding {enc!r} (payload.encoding)") from None
