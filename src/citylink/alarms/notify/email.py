"""E-mail: one message per event and department, to all of the department's addresses, through the SMTP
server of the settings (``smtp_host``; unset: e-mail is off and no e-mail delivery is queued).  Subject and
text are in Korean, then English, written from the notification kept in the delivery log (the event's
:meth:`~citylink.alarms.model.AlarmEvent.as_json`, as a webhook gets it).

SMTP replies: 2xx delivered; 4xx (and no connection, a timeout, a dropped connection) may pass and is
retried; 5xx is final.  Logging in (``smtp_user``) takes the password from the environment variable
``CITYLINK_SMTP_PASSWORD`` only: it is never a setting a file could hold."""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import orjson

from ...config import Settings
from ...spec.model import DepartmentSpec
from ...store.deliveries import DeliveryRow
from .channel import Outcome, Target

PASSWORD_ENV = "CITYLINK_SMTP_PASSWORD"
KST = timezone(timedelta(hours=9), "KST")   # the district's time, for the people reading the message

KINDS = {"raised": ("경보 발생", "Alarm raised"), "escalated": ("경보 격상", "Alarm escalated"),
         "cleared": ("경보 해제", "Alarm cleared")}
SEVERITIES = {"informational": "정보", "low": "낮음", "medium": "보통", "high": "높음", "critical": "긴급"}


def _local(iso_text: str | None) -> str:
    if not iso_text:
        return "-"
    t = datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone(KST)
    return t.strftime("%Y-%m-%d %H:%M:%S KST")


def compose(note: dict, *, sender: str, to: list[str], delivery_id: int) -> EmailMessage:
    """The message of a notification (an event's ``as_json()``), Korean first."""
    a, kind = note["alarm"], note["kind"]
    kind_ko, kind_en = KINDS.get(kind, (kind, kind))
    msg_ko, msg_en = a["message"]["ko"] or a["rule"], a["message"]["en"] or a["rule"]
    values = ", ".join(f"{k}={v}" for k, v in sorted(a["values"].items())) or "-"
    sev = a["severity"]
    ko = [f"[{kind_ko}] {msg_ko}", "",
          f"심각도: {SEVERITIES.get(sev, sev)}", f"담당 부서: {a['department']}", f"서비스: {a['service']}",
          f"대상: {a['entity']} ({a['entityType']})", f"규칙: {a['rule']}", f"측정값: {values}",
          f"최초 발생: {_local(a['raisedAt'])}", f"최근 감지: {_local(a['lastSeenAt'])} (총 {a['count']}회)",
          f"이벤트 시각: {_local(note['at'])}"]
    en = [f"[{kind_en}] {msg_en}", "",
          f"Severity: {sev}", f"Department: {a['department']}", f"Service: {a['service']}",
          f"Entity: {a['entity']} ({a['entityType']})", f"Rule: {a['rule']}", f"Values: {values}",
          f"First raised: {a['raisedAt']}", f"Last seen: {a['lastSeenAt']} ({a['count']} times)",
          f"Event at: {note['at']}"]
    if note.get("by"):
        ko.append(f"처리자: {note['by']}")
        en.append(f"By: {note['by']}")
    if note.get("comment"):
        ko.append(f"의견: {note['comment']}")
        en.append(f"Comment: {note['comment']}")
    if a.get("location"):
        lon, lat = a["location"]["coordinates"]
        ko.append(f"위치: {lat:.6f}, {lon:.6f}")
        en.append(f"Location (lat, lon): {lat:.6f}, {lon:.6f}")
    m = EmailMessage()
    m["Subject"] = f"[CityLink] {kind_ko}: {msg_ko} / {kind_en}: {msg_en}"
    m["From"] = sender
    m["To"] = ", ".join(to)
    m["Date"] = formatdate(localtime=False)
    m["Message-ID"] = make_msgid(f"delivery-{delivery_id}", domain=sender.rpartition("@")[2] or "localhost")
    m["X-CityLink-Event"] = kind
    m["X-CityLink-Delivery"] = str(delivery_id)
    m["X-CityLink-Alarm"] = a["id"]
    m.set_content("\n".join(ko + ["", "-" * 40, ""] + en + ["", f"Alarm id: {a['id']}"]) + "\n")
    return m


class EmailChannel:
    name = "email"

    def __init__(self, settings: Settings):
        self.host, self.port = settings.smtp_host, settings.smtp_port
        self.sender, self.starttls, self.user = settings.smtp_from, settings.smtp_starttls, settings.smtp_user
        self.timeout = settings.alarm_notify_timeout_seconds

    def off(self) -> str | None:
        return None if self.host else "smtp_host (CITYLINK_SMTP_HOST) is not set"

    def targets(self, department: DepartmentSpec) -> list[Target]:
        return [Target(", ".join(department.emails))] if department.emails else []

    def send(self, d: DeliveryRow) -> Outcome:
        if not self.host:
            return Outcome.permanent(f"e-mail is off: {self.off()}")
        where = f"SMTP {self.host}:{self.port}"
        password = os.environ.get(PASSWORD_ENV)
        if self.user and not password:
            return Outcome.permanent(f"{where}: smtp_user is {self.user!r} but the environment variable "
                                     f"{PASSWORD_ENV} is not set")
        to = [x.strip() for x in d.target.split(",") if x.strip()]
        msg = compose(orjson.loads(d.body), sender=self.sender, to=to, delivery_id=d.id)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as s:
                if self.starttls:
                    s.starttls(context=ssl.create_default_context())
                if self.user:
                    s.login(self.user, password)
                refused = s.send_message(msg, from_addr=self.sender, to_addrs=to)
        except smtplib.SMTPRecipientsRefused as e:   # every address refused
            codes = [c for c, _ in e.recipients.values()]
            text = "; ".join(f"{addr}: {c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                             for addr, (c, m) in e.recipients.items())
            error = f"{where}: recipients refused: {text}"[:500]
            if any(400 <= c < 500 for c in codes):
                return Outcome.transient(error, max(codes))
            return Outcome.permanent(error, max(codes))
        except smtplib.SMTPResponseException as e:   # a reply code: 4xx may pass, 5xx will not
            text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
            error = f"{where}: {e.smtp_code} {text}"[:500]
            return (Outcome.transient if 400 <= e.smtp_code < 500 else Outcome.permanent)(error, e.smtp_code)
        except smtplib.SMTPServerDisconnected as e:
            return Outcome.transient(f"{where}: connection closed: {e}"[:500])
        except smtplib.SMTPNotSupportedError as e:   # STARTTLS or AUTH the server does not offer
            return Outcome.permanent(f"{where}: {e} (smtp_starttls / smtp_user)"[:500])
        except (socket.timeout, TimeoutError):
            return Outcome.transient(f"{where}: no answer within {self.timeout:g} s")
        except ssl.SSLError as e:
            return Outcome.permanent(f"{where}: TLS failed: {e}"[:500])
        except smtplib.SMTPException as e:   # anything else the exchange went wrong with (no AUTH method, …)
            return Outcome.permanent(f"{where}: {type(e).__name__}: {e}"[:500])
        except OSError as e:   # connection refused, host unreachable, name not found
            return Outcome.transient(f"{where}: cannot connect: {e}"[:500])
        if refused:   # some addresses refused, the message went to the others
            text = "; ".join(f"{addr}: {c}" for addr, (c, _) in refused.items())
            return Outcome(True, code=250, error=f"{where}: some recipients refused: {text}"[:500])
        return Outcome.delivered(250)

    def close(self) -> None:
        """Nothing to close: each message opens and closes its own SMTP connection."""
