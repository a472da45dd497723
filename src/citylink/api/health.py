"""Liveness and readiness (public, for a process supervisor or a load balancer), and the operators'
view of the feeds: the ledger and the pulling adapters' health (admin)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from .auth import scoped_router


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["operations"])

    @r.get("/healthz", summary="The process is alive")
    def healthz():
        return {"status": "ok"}

    @r.get("/readyz", summary="The platform can take and serve data")
    def readyz():
        checks = {}
        try:
            platform.store.ping()
            checks["store"] = "ok"
        except Exception as e:  # noqa: BLE001 - report, do not crash the probe
            checks["store"] = f"error: {e}"
        checks["specs"] = "ok" if platform.normalizer and platform.specs.sources else "no sources in force"
        checks["normalizer"] = "ok" if platform.started else "not started"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                            status_code=200 if ok else 503)

    return r


def operations_router(platform) -> APIRouter:
    r = scoped_router("admin", tags=["operations"])

    @r.get("/api/ledger", summary="Per-source message ledger")
    def ledger():
        return platform.store.ledger()

    @r.get("/api/transport-health", summary="Per-source health of the pulling adapters (HTTP poll)")
    def transport_health():
        return platform.store.transport_health()

    return r
