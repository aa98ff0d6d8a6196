"""Kiosk configuration from TOML (/etc/kiosk/kiosk.toml), validated with clear errors."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")
ROLES = ("entrance", "cashier")


class ConfigError(Exception):
    """The kiosk configuration is broken; the message says which setting and how to fix it."""


@dataclass
class KioskConfig:
    server_url: str = "http://127.0.0.1:8700"
    role: str = "entrance"
    language: str = "uk"
    languages: list[str] = field(default_factory=lambda: ["uk", "en", "ru", "kk"])
    country: str = "UA"
    state_dir: Path = Path("/var/lib/kiosk")
    idle_timeout: float = 60.0
    request_timeout: float = 5.0
    ca_bundle: str | None = None
    fullscreen: bool = True
    width: int = 800
    height: int = 480
    #: The panel's diagonal: keeps buttons 15 mm on small panels with many pixels (kiosk/screens/scale.py).
    panel_inches: float | None = None
    scanners: dict = field(default_factory=dict)
    indicators: dict = field(default_factory=dict)
    #: The kiosk.toml this came from (not a setting): on-screen enrolment rewrites that same file.
    source: ClassVar[Path | None] = None

    def __post_init__(self) -> None:
        self.state_dir = Path(os.environ.get("KIOSK_STATE_DIR") or self.state_dir)
        if self.role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if not self.server_url.startswith(("http://", "https://")):
            raise ConfigError(f"server_url must start with http:// or https://, not {self.server_url!r}")
        if self.idle_timeout <= 0 or self.request_timeout <= 0:
            raise ConfigError("idle_timeout and request_timeout must be positive numbers of seconds")

    @property
    def database(self) -> Path:
        return self.state_dir / "kiosk.db"

    @classmethod
    def load(cls, path: str | Path | None = None) -> KioskConfig:
        path = Path(path or os.environ.get("KIOSK_CONFIG") or DEFAULT_PATH)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"{path} not found; run `kiosk provision` or copy docs/kiosk.example.toml") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not valid TOML: {e}") from e
        config = cls.from_dict(raw, origin=str(path))
        config.source = path
        return config

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "config") -> KioskConfig:
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"{origin}: unknown setting(s) {', '.join(sorted(unknown))}")
        expected = {"server_url": str, "role": str, "language": str, "country": str, "fullscreen": bool,
                    "width": int, "height": int, "scanners": dict, "indicators": dict, "languages": list}
        for key, kind in expected.items():
            if key in raw and not isinstance(raw[key], kind):
                raise ConfigError(f"{origin}: {key} must be a {kind.__name__}")
        if "panel_inches" in raw and not (isinstance(raw["panel_inches"], int | float)
                                          and 2 <= raw["panel_inches"] <= 100):
            raise ConfigError(f"{origin}: panel_inches must be the panel's diagonal in inches, e.g. 7 or 10.1")
        for key in ("idle_timeout", "request_timeout"):
            if key in raw and not isinstance(raw[key], int | float):
                raise ConfigError(f"{origin}: {key} must be a number of seconds")
        try:
            return cls(**raw)
        except ConfigError as e:
            raise ConfigError(f"{origin}: {e}") from e
