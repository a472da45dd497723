"""Webhooks: the notification POSTed as JSON to each URL a department declares, signed Stripe-style.

Headers: ``Content-Type: application/json``, ``X-CityLink-Event: <kind>``, ``X-CityLink-Delivery: <id in the
delivery log>`` (the same on every retry: a receiver can drop a repeat), and
``X-CityLink-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of f"{t}.".encode() + body>``, keyed with the
secret held by the environment variable the webhook names (``secret_env``).  ``t`` is the real time of the
attempt (not the platform clock, which a simulation may hold in the past): a receiver refuses a signature
whose ``t`` is far from its own clock, so a recorded request cannot be replayed later.  Without its secret a
webhook is never sent unsigned: the delivery fails, naming the variable."""
from __future__ import annotations

import hashlib
import hmac
import os
import time

import httpx

from ...config import Settings
from ...spec.model import DepartmentSpec
from ...store.deliveries import DeliveryRow
from .channel import Outcome, Target

RETRY_STATUSES = frozenset({408, 429})   # and every 5xx
SIGNATURE_HEADER = "X-CityLink-Signature"


def signature(secret: str, t: int, body: bytes) -> str:
    """The ``X-CityLink-Signature`` value of ``body`` signed at unix time ``t``."""
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: Settings):
        self.timeout = settings.alarm_notify_timeout_seconds
        self._client = httpx.Client(follow_redirects=False, headers={"User-Agent": "CityLink alarm notifier"})

    def off(self) -> str | None:
        return None

    def targets(self, department: DepartmentSpec) -> list[Target]:
        return [Target(w["url"], w.get("secret_env")) for w in department.webhooks]

    def send(self, d: DeliveryRow) -> Outcome:
        if not d.secret_env:
            return Outcome.permanent(f"department {d.department}: its webhook {d.target} names no secret_env "
                                     "(notify.webhooks[].secret_env): not sent unsigned")
        secret = os.environ.get(d.secret_env)
        if not secret:
            return Outcome.permanent(f"environment variable {d.secret_env} is not set: the webhook {d.target} of "
                                     f"department {d.department} is not sent unsigned")
        body = d.body.encode()
        headers = {"Content-Type": "application/json", "X-CityLink-Event": d.event_kind,
                   "X-CityLink-Delivery": str(d.id), SIGNATURE_HEADER: signature(secret, int(time.time()), body)}
        try:
            r = self._client.post(d.target, content=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as e:
            return Outcome.transient(f"{d.target}: no answer within {self.timeout:g} s ({type(e).__name__})")
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as e:
            return Outcome.transient(f"{d.target}: {type(e).__name__}: {e}"[:500])
        except (httpx.HTTPError, httpx.InvalidURL) as e:   # an unsupported URL and the like: final
            return Outcome.permanent(f"{d.target}: {type(e).__name__}: {e}"[:500])
        if 200 <= r.status_code < 300:
            return Outcome.delivered(r.status_code)
        error = f"{d.target}: HTTP {r.status_code} {r.reason_phrase}".strip()
        if r.status_code >= 500 or r.status_code in RETRY_STATUSES:
            return Outcome.transient(error, r.status_code)
        return Outcome.permanent(error, r.status_code)   # the receiver refuses it (a redirect is not followed)

    def close(self) -> None:
        self._client.close()
