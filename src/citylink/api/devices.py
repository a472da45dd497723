"""(being written: issue 7)"""
from __future__ import annotations

from fastapi import APIRouter

from .auth import scoped_router


def router(platform) -> APIRouter:
    return scoped_router("public", tags=["dashboard"])
