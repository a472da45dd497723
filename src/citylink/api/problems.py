"""The one error envelope: NGSI-LD ProblemDetails (ETSI GS CIM 009, 5.5.2 / RFC 7807)."""
from __future__ import annotations

from fastapi.responses import JSONResponse

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
STATUS = {"BadRequestData": 400, "InvalidRequest": 400, "ResourceNotFound": 404, "AlreadyExists": 409,
          "OperationNotSupported": 422, "LdContextNotAvailable": 503, "InternalError": 500,
          "NotAcceptable": 406, "TooManyResults": 403, "Unauthorized": 401,
          "Forbidden": 403, "TooManyRequests": 429}


class NgsiError(Exception):
    def __init__(self, kind: str, detail: str, status: int | None = None, headers: dict | None = None):
        self.kind = kind
        self.detail = detail
        self.status = status or STATUS.get(kind, 400)
        self.headers = headers
        super().__init__(detail)


def problem(kind: str, detail: str, status: int | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"type": ERRORS + kind, "title": kind, "detail": detail},
                        status_code=status or STATUS.get(kind, 400), media_type="application/json", headers=headers)
