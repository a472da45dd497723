"""NGSI-LD subscriptions and HTTP notifications: the document (:mod:`.model`), which commits concern
which subscriptions (:mod:`.matcher`), delivery with retries and throttling (:mod:`.notifier`), and the
platform's set of them that ties these together (:mod:`.service`)."""
from __future__ import annotations

from .model import Subscription, parse
from .service import Subscriptions

__all__ = ["Subscription", "Subscriptions", "parse"]
