"""Kiosk configuration from TOML (/etc/kiosk/kiosk.toml), validated with clear errors."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")
ROLES = ("entrance", "cashier")


_KINDS = {str: "text in quotes", int: "a whole number", bool: "true or false", dict: "a table", list: "a list"}


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
    #: while a customer waits for an SMS code: a slow provider must not throw them out (kiosk/flows/idle.py)
    code_idle_timeout: float = 180.0
    #: A cashier left the till this long (no touch, no scan): signed out, the next one signs in.
    cashier_idle_timeout: float = 900.0
    request_timeout: float = 5.0
    ca_bundle: str | None = None
    fullscreen: bool = True
    width: int = 800
    height: int = 480
    #: The panel's diagonal: keeps buttons 15 mm on small panels with many pixels (kiosk/screens/scale.py).
    panel_inches: float | None = None
    scanners: dict = field(default_factory=dict)
    indicators: dict = field(default_factory=dict)
    #: The shop's card-number format ([cards] in kiosk.toml; loyalty_common.cards.CardRules).
    cards: dict = field(default_factory=dict)
    #: The kiosk.toml this came from (not a setting): on-screen enrolment rewrites that same file.
    source: ClassVar[Path | None] = None

    def __post_init__(self) -> None:
        self.state_dir = Path(os.environ.get("KIOSK_STATE_DIR") or self.state_dir)
        if self.role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if not self.server_url.startswith(("http://", "https://")):
            raise ConfigError(f"server_url must start with http:// or https://, not {self.server_url!r}")
        if min(self.idle_timeout, self.request_timeout, self.code_idle_timeout, self.cashier_idle_timeout) <= 0:
            raise ConfigError("idle_timeout, code_idle_timeout, cashier_idle_timeout and request_timeout must be "
                              "positive numbers of seconds")
        from loyalty_common.cards import CardRules

        try:
            self.card_rules = CardRules.from_config(self.cards)
        except ValueError as e:
            raise ConfigError(str(e)) from e
        from .i18n import LANGUAGES

        if self.language not in LANGUAGES:
            raise ConfigError(f"language must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        wrong = [lang for lang in self.languages if lang not in LANGUAGES]
        if not self.languages or wrong:
            raise ConfigError(f"languages must list some of {', '.join(LANGUAGES)}"
                              + (f"; {', '.join(map(repr, wrong))} is not one" if wrong else ""))
        for key in ("width", "height"):
            if not 100 <= getattr(self, key) <= 10_000:
                raise ConfigError(f"{key} must be the window's size in pixels (100-10000), not {getattr(self, key)}")
        import phonenumbers

        if self.country not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"country must be an ISO 3166 code such as UA, KZ or VN, not {self.country!r}")
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise ConfigError(f"ca_bundle {self.ca_bundle!r} is not a readable file (a PEM file with the shop's CA)")

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
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path} is not UTF-8 text (byte {e.start})") from e
        except OSError as e:  # a directory, no permission, an unreadable SD card
            raise ConfigError(f"{path} cannot be read: {e.strerror or e}") from e
        config = cls.from_dict(raw, origin=str(path))
        config.source = path
        return config

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "config") -> KioskConfig:
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"{origin}: unknown setting(s) {', '.join(sorted(unknown))}")
        expected = {"server_url": str, "role": str, "language": str, "country": str, "fullscreen": bool,
                    "width": int, "height": int, "scanners": dict, "indicators": dict, "cards": dict, "languages": list,
                    "state_dir": str, "ca_bundle": str}
        for key, kind in expected.items():
            # bool is an int to Python; `width = true` is still not a size
            if key in raw and (not isinstance(raw[key], kind) or (kind is int and isinstance(raw[key], bool))):
                raise ConfigError(f"{origin}: {key} must be {_KINDS[kind]}")
        if not all(isinstance(lang, str) for lang in raw.get("languages", [])):
            raise ConfigError(f"{origin}: languages must be a list of language codes, e.g. [\"uk\", \"en\"]")
        if "panel_inches" in raw and not (isinstance(raw["panel_inches"], int | float)
                                          and 2 <= raw["panel_inches"] <= 100):
            raise ConfigError(f"{origin}: panel_inches must be the panel's diagonal in inches, e.g. 7 or 10.1")
        for key in ("idle_timeout", "code_idle_timeout", "cashier_idle_timeout", "request_timeout"):
            if key in raw and not isinstance(raw[key], int | float):
                raise ConfigError(f"{origin}: {key} must be a number of seconds")
        try:
            return cls(**raw)
        except ConfigError as e:
            raise ConfigError(f"{origin}: {e}") from e
