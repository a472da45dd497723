"""Configuration: a TOML file, overridden by ``CITYLINK_*`` environment variables.

Precedence (highest first): explicit arguments (CLI flags) → environment
(``CITYLINK_DATA_DIR``, ``CITYLINK_STORE_URL``, …) → the TOML file named by
``--config`` / ``CITYLINK_CONFIG`` (or ``./citylink.toml`` when present) →
defaults.  Secrets (the pseudonymisation key) never live in spec files; when
none is configured a random key is made once and kept in the data directory.
"""
from __future__ import annotations

import os
import secrets
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import ConfigError

BUNDLED_SPECS = Path(__file__).parent / "data" / "specs"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINK_", extra="forbid")

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("citylink")))
    store_url: str | None = None  # default: sqlite:///<data_dir>/citylink.db
    specs_dir: Path = BUNDLED_SPECS
    deployment: str = "dobong"
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    ingest_wait_seconds: float = 5.0
    spec_poll_seconds: float = 2.0
    bus: str = "memory"
    mqtt_url: str | None = None              # mqtt://host:port — subscribe for the sources that use MQTT
    pseudonym_key: str | None = None
    admin_key: str | None = None             # the bootstrap admin key (default: made once in data_dir/admin.key)
    insecure_no_auth: bool = False           # every request through: loopback only, for local tools
    key_requests_per_minute: int = 600       # per reader's API key, in each process (0: no limit)
    max_clock_skew_seconds: float = 300.0   # beyond this ahead of now: flagged clock_skew
    max_future_seconds: float = 86_400.0    # beyond this ahead of now: quarantined
    late_after_seconds: float = 3_600.0     # older than this on arrival: flagged late
    ld_context_timeout_seconds: float = 5.0  # fetching a client's @context URL (api/ldcontext.py)
    ld_context_ttl_seconds: float = 600.0    # how long a fetched @context is reused
    notify_timeout_seconds: float = 10.0    # a subscription's receiver must answer within this
    notify_attempts: int = 3                # tries per notification (a timeout, no connection, 5xx)
    notify_backoff_seconds: float = 1.0     # before the 2nd try; doubled before each further one
    opendata_max_days: float = 366.0        # an open data download's time range at most (timeAt..endTimeAt)
    opendata_max_bbox_degrees: float = 0.5  # an open data download's area (bbox) at most this wide and high
    # alarm notifications to departments (alarms/notify/): webhooks and e-mail, retried with backoff
    alarm_notify_attempts: int = Field(5, ge=1)                # tries per delivery (a failure that may pass)
    alarm_notify_backoff_seconds: float = Field(2.0, ge=0)     # before the 2nd try; doubled before each further one
    alarm_notify_timeout_seconds: float = Field(10.0, gt=0)    # a webhook or the SMTP server must answer within this
    smtp_host: str | None = None             # the SMTP server alarms are e-mailed through (None: no e-mail)
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "citylink@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None             # log in as; the password only from the CITYLINK_SMTP_PASSWORD variable

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'citylink.db'}"

    def resolved_pseudonym_key(self) -> bytes:
        if self.pseudonym_key:
            return self.pseudonym_key.encode()
        path = self.data_dir / "pseudonym.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()


    def resolved_admin_key(self) -> str:
        if self.admin_key:
            return self.admin_key
        path = self.data_dir / "admin.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("cl_admin_" + secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()


_config_file: ContextVar[Path | None] = ContextVar("citylink_config_file", default=None)


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls):
        super().__init__(settings_cls)
        given = _config_file.get()
        explicit = str(given) if given is not None else os.environ.get("CITYLINK_CONFIG")
        path = Path(explicit) if explicit else Path("citylink.toml")
        self.data: dict[str, Any] = {}
        if explicit and not path.exists():
            where = "--config" if given is not None else "CITYLINK_CONFIG"
            raise ConfigError(f"{where}={explicit}: no such file")
        if path.exists():
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{path}: {e}") from e
            self.data = raw.get("citylink", raw)
        self.path = path if path.exists() else None

    def get_field_value(self, field, field_name):
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from file + environment, with ``overrides`` (non-None ones) on top."""
    token = _config_file.set(Path(config) if config is not None else None)
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = f"CITYLINK_{key.upper()}"
            origin = ("given as an option" if key in given else f"from {env}" if env in os.environ
                      else "from the configuration file")
            lines.append(f"{key} ({origin}): {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
    finally:
        _config_file.reset(token)
