"""Server configuration from TOML (/etc/store-server/server.toml), checked by type with one-line errors.

server.toml says how the server runs (where its data is, which database, address, secret, SMS gateways,
code limits, logging). What the shop is (name, country, languages, time zone) lives in the database as shop
settings (store_server/settings_schema.py), so `store-server settings set` changes it while the server runs.
A new key is one annotated field below: pydantic checks it on load.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError

DEFAULT_PATH = Path("/etc/store-server/server.toml")
DEFAULT_PORT = 8700
# Keys an earlier `init` wrote that are shop settings now (init copies them into the database).
_RETIRED = ("shop_name", "country", "languages")


class ConfigError(Exception):
    """The configuration file is missing a value or has a wrong one; the message names it."""


def _database_url(value: str) -> str:
    if value and not value.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ValueError("must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    return value


@dataclass
class ServerConfig:
    data_dir: Path
    database_url: Annotated[StrictStr, AfterValidator(_database_url)] = ""
    demo: StrictBool = False
    host: Annotated[StrictStr, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = DEFAULT_PORT
    secret_key: StrictStr = ""
    sms: dict = field(default_factory=dict)
    # One-time code limits (store_server.messaging.codes.OtpPolicy keys); the shop setting "otp" overrides them.
    otp: dict[str, StrictInt] = field(default_factory=dict)
    # Request limits (store_server.api.limits.Limits keys): body sizes, timeouts, connections, enrolment rate.
    limits: dict = field(default_factory=dict)
    # The connection pool (store_server.data.db.PoolSettings keys): pool_size, max_overflow, timeouts.
    database: dict = field(default_factory=dict)
    # How long a process trusts a device key it has checked; a revoked device is refused within this time
    # on every process (0: every request reads the devices table).
    device_auth_cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    # Logging (store_server/logs.py): "text" lines with journald priority prefixes, or one JSON object a line.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'store.db'}"

    @property
    def sms_outbox_file(self) -> Path:
        """Where the demo console gateway appends every SMS it 'sends'."""
        return self.data_dir / "sms-console.jsonl"

    @property
    def backend(self) -> str:
        return "PostgreSQL" if self.database_url.startswith("postgresql") else "SQLite"

    @classmethod
    def load(cls, path: str | Path | None = None) -> ServerConfig:
        path = Path(path or os.environ.get("STORE_SERVER_CONFIG") or DEFAULT_PATH)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"config file {path} not found; create one with `store-server --config {path} "
                              f"init --data-dir DIR`, or pass --config") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
        except UnicodeDecodeError as e:
            raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start})") from e
        except OSError as e:  # a directory, no permission, an unreadable disk
            raise ConfigError(f"config file {path} cannot be read: {e.strerror or e}") from e
        return cls.from_dict(raw, origin=str(path))

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "config") -> ServerConfig:
        raw = {k: v for k, v in raw.items() if k not in _RETIRED}
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"{origin}: unknown setting(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(known))}")
        if "data_dir" not in raw:
            raise ConfigError(f"{origin}: data_dir is required")
        if not isinstance(raw["data_dir"], str) or not raw["data_dir"]:
            raise ConfigError(f"{origin}: data_dir must be a directory path")
        try:
            config = _adapter().validate_python(raw)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{origin}: {where}: {first['msg'].removeprefix('Value error, ')}") from None
        if config.database:
            from .data.db import PoolSettings
            from .errors import DomainError

            try:
                PoolSettings.from_settings(config.database)
            except DomainError as e:
                raise ConfigError(f"{origin}: [database]: {e.message}") from None
        if config.otp:
            from .errors import DomainError
            from .messaging.codes import OtpPolicy

            try:  # a typo in [otp] stops the server at start, not at a customer's first code
                OtpPolicy.from_settings(config.otp)
            except DomainError as e:
                raise ConfigError(f"{origin}: [otp]: {e.message}") from None
        return config

    def to_toml(self) -> str:
        import tomli_w

        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["data_dir"] = str(self.data_dir)
        defaults = ServerConfig(data_dir=self.data_dir)
        # Keep the file short: what init chose, plus anything not at its default.
        keep = {"data_dir", "database_url", "host", "port", "secret_key", "demo"}
        return tomli_w.dumps({k: v for k, v in values.items()
                              if k in keep or v != getattr(defaults, k)})


def _adapter(_cache: list = []) -> TypeAdapter:  # noqa: B006 - built once per process
    if not _cache:
        _cache.append(TypeAdapter(ServerConfig))
    return _cache[0]
