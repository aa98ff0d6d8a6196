"""Server configuration from TOML (/etc/store-server/server.toml), validated with clear errors."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = Path("/etc/store-server/server.toml")


class ConfigError(Exception):
    """The configuration file is missing a value or has a wrong one; the message names it."""


@dataclass
class ServerConfig:
    data_dir: Path
    database_url: str = ""
    demo: bool = False
    host: str = "127.0.0.1"
    port: int = 8700
    shop_name: str = "Demo Shop"
    country: str = "UA"
    languages: list[str] = field(default_factory=lambda: ["uk", "en", "ru", "kk"])
    secret_key: str = ""
    sms: dict = field(default_factory=dict)
    # One-time code limits (store_server.otp.OtpPolicy keys); the shop setting "otp" overrides them.
    otp: dict = field(default_factory=dict)
    # Request limits (store_server.api.limits.Limits keys): body sizes, timeouts, connections, enrolment rate.
    limits: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'store.db'}"

    @property
    def sms_outbox_file(self) -> Path:
        """Where the demo console gateway appends every SMS it 'sends'."""
        return self.data_dir / "sms-console.jsonl"

    @classmethod
    def load(cls, path: str | Path | None = None) -> ServerConfig:
        path = Path(path or os.environ.get("STORE_SERVER_CONFIG") or DEFAULT_PATH)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"config file {path} not found; run `store-server init --data-dir DIR`") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
        return cls.from_dict(raw, origin=str(path))

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "config") -> ServerConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"{origin}: unknown setting(s) {', '.join(sorted(unknown))}")
        if "data_dir" not in raw:
            raise ConfigError(f"{origin}: data_dir is required")
        for key, kind in (("demo", bool), ("port", int), ("shop_name", str), ("country", str)):
            if key in raw and not isinstance(raw[key], kind):
                raise ConfigError(f"{origin}: {key} must be a {kind.__name__}")
        return cls(**raw)

    def to_toml(self) -> str:
        lines = [
            f'data_dir = "{self.data_dir}"',
            f'database_url = "{self.database_url}"',
            f"demo = {'true' if self.demo else 'false'}",
            f'host = "{self.host}"',
            f"port = {self.port}",
            f'shop_name = "{self.shop_name}"',
            f'country = "{self.country}"',
            "languages = [" + ", ".join(f'"{lang}"' for lang in self.languages) + "]",
            f'secret_key = "{self.secret_key}"',
        ]
        return "\n".join(lines) + "\n"
