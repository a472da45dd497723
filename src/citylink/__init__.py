"""CityLink: one linkage standard for many vendors' smart city feeds.

The public API is small; everything else lives in modules whose names say
which stage of the data's path they are (adapters → bus → normalize → store → api).
"""
from __future__ import annotations

__version__ = "0.1.0"

from .clock import Clock, ManualClock, SystemClock
from .config import Settings, load_settings
from .errors import CityLinkError, ConfigError, SpecError, SpecProblem, StoreError, TransportRefused, UnknownSource
from .normalize.pipeline import Normalizer
from .normalize.records import NormalizedBatch, Problem, RawMessage
from .platform import Platform
from .spec.loader import load_paths, load_texts
from .spec.model import SpecSet
from .store import Store, open_store

__all__ = [
    "CityLinkError",
    "Clock",
    "ConfigError",
    "ManualClock",
    "NormalizedBatch",
    "Normalizer",
    "Platform",
    "Problem",
    "RawMessage",
    "Settings",
    "SpecError",
    "SpecProblem",
    "SpecSet",
    "Store",
    "StoreError",
    "SystemClock",
    "TransportRefused",
    "UnknownSource",
    "__version__",
    "load_paths",
    "load_settings",
    "load_texts",
    "open_store",
]
