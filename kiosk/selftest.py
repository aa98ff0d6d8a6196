"""`kiosk selftest`: check the display, scanners, indicators, modem, the store server, storage and the
catalogues of the shop's languages; print a report.

Written for a technician at the device (or over SSH): each line says what was found and, when something is
wrong, what to do about it. Nothing here changes the device, except that the indicators play one short
pattern so the technician can see and hear them. Exit status 1 when any check failed.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import KioskConfig

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"
MODEM_PATH = "/dev/kiosk/modem"  # the symlink firmware_config/udev/71-kiosk-modem.rules creates


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Places:
    """Where the hardware shows up; tests point these at folders they build."""

    dev: Path = Path("/dev")
    sys: Path = Path("/sys")
    modem: str = MODEM_PATH


def check_display(env: dict[str, str], places: Places = Places()) -> Check:
    if env.get("DISPLAY") and env.get("SDL_VIDEODRIVER", "x11") == "x11":
        return Check("display", OK, f"X11 display {env['DISPLAY']} (a desktop, not the appliance's KMS/DRM)")
    cards = sorted(glob.glob(str(places.dev / "dri" / "card*")))
    if not cards:
        return Check("display", FAIL, "no /dev/dri/card*: KMS is off; config.txt needs dtoverlay=vc4-kms-v3d "
                                      "(see docs/firmware.md)")
    denied = [c for c in cards if not os.access(c, os.R_OK | os.W_OK)]
    if len(denied) == len(cards):
        return Check("display", FAIL, f"cannot open {', '.join(denied)}: the kiosk user must be in the video group")
    connected = []
    for status in sorted(glob.glob(str(places.sys / "class" / "drm" / "card*-*" / "status"))):
        if Path(status).read_text().strip() == "connected":
            connected.append(Path(status).parent.name)
    if not connected:
        return Check("display", FAIL, "no display connected (DSI ribbon or HDMI cable; HDMI must be plugged in "
                                      "before power-on)")
    renders = sorted(glob.glob(str(places.dev / "dri" / "renderD*")))
    if renders and not any(os.access(r, os.R_OK | os.W_OK) for r in renders):
        return Check("display", WARN, f"{', '.join(connected)} connected, but {renders[0]} is not usable: add the "
                                      "kiosk user to the render group or GL falls back to slow software drawing")
    device_hint = env.get("SDL_KMSDRM_DEVICE_INDEX")
    if device_hint:
        extra = f"; SDL_KMSDRM_DEVICE_INDEX={device_hint}"
    elif len(cards) > 1:
        # SDL finds the display's DRM device by itself on most boards, but not on a Pi 5 with only a DSI
        # panel (the card numbers there also change between boots).
        index = connected[0].split("-", 1)[0].removeprefix("card")
        extra = f"; if the screen stays black: SDL_KMSDRM_DEVICE_INDEX={index} in /etc/kiosk/kiosk.env"
    else:
        extra = ""
    return Check("display", OK, f"{', '.join(connected)} connected{extra}")


def check_scanners(config: KioskConfig, places: Places = Places()) -> Check:
    from drivers.scanner.config import ScannerConfig, ScannerConfigError

    try:
        scanners = ScannerConfig.from_dict(config.scanners)
    except ScannerConfigError as e:
        return Check("scanners", FAIL, str(e))
    if not scanners.evdev and not scanners.serial:
        return Check("scanners", WARN, "none configured in [scanners]: only a keyboard-wedge scanner would work")
    found, problems = [], []
    if scanners.evdev:
        from drivers.scanner.discovery import decide, read_input_devices

        report = decide(scanners.evdev, read_input_devices(str(places.dev / "input")))
        found += [f"{d.device.path} ({d.device.name or d.device.usb_id})" for d in report.decisions if d.used]
        problems += [f"scanner #{i} ({scanners.evdev[i].describe()}) not found" for i in report.unmatched]
        problems += [f"{d.device.path}: {d.reason}" for d in report.decisions if d.device.error]
    for entry in scanners.serial:
        if not os.path.exists(entry.port):
            problems.append(f"{entry.port} does not exist (unplugged? see `ls /dev/serial/by-id/`)")
        elif not os.access(entry.port, os.R_OK | os.W_OK):
            problems.append(f"{entry.port}: permission denied (the kiosk user must be in the dialout group)")
        else:
            found.append(entry.port)
    detail = "; ".join(([f"found {', '.join(found)}"] if found else []) + problems)
    return Check("scanners", FAIL if problems else OK, detail)


def check_indicators(config: KioskConfig, *, pin_factory=None) -> Check:
    from drivers.errors import DriverError
    from drivers.indicators import IndicatorConfig, NullIndicators, make_indicators

    try:
        settings = IndicatorConfig.from_dict(config.indicators)
        if not settings.has_pins or settings.backend == "none":
            return Check("indicators", SKIP, "no LED or buzzer pins in [indicators]")
        indicators = make_indicators(settings, pin_factory=pin_factory)
    except DriverError as e:
        return Check("indicators", FAIL, str(e))
    with indicators:
        if type(indicators) is NullIndicators:
            return Check("indicators", FAIL, "pins are configured but GPIO is not usable (gpio group? lgpio?)")
        # The technician should see green and hear one beep now.
        indicators.scan_ok()
        indicators.wait_idle(timeout=2)
    pins = ", ".join(f"{name} {getattr(settings, name)}" for name in ("green", "red", "buzzer", "relay")
                     if getattr(settings, name) is not None)
    return Check("indicators", OK, f"{pins}; played one beep with green on")


def check_modem(places: Places = Places(), timeout: float = 3.0) -> Check:
    if not os.path.exists(places.modem):
        return Check("modem", SKIP, f"no {places.modem} (only a shop that sends SMS through its own modem has one)")
    from drivers.modem import Modem, ModemError

    try:
        with Modem(places.modem, timeout=timeout) as modem:
            lines = modem.command("AT+CSQ", timeout=timeout)
    except ModemError as e:
        return Check("modem", FAIL, str(e))
    rssi = next((line.split(":", 1)[1].split(",")[0].strip() for line in lines if line.startswith("+CSQ:")), "")
    if not rssi.isdigit() or int(rssi) == 99:
        return Check("modem", WARN, f"{places.modem} answers, but reports no signal (SIM inserted? antenna?)")
    # +CSQ 0..31 maps to -113..-51 dBm; below about 10 SMS sending gets unreliable.
    level = int(rssi)
    status = OK if level >= 10 else WARN
    return Check("modem", status, f"{places.modem} answers; signal {level}/31 ({-113 + 2 * level} dBm)")


def check_server(config: KioskConfig) -> Check:
    from .client import ServerError, ServerRefused, StoreClient
    from .store import LocalStore

    if not config.database.exists():
        return Check("server", FAIL, f"no {config.database}: this kiosk is not enrolled (`kiosk provision`)")
    store = LocalStore(config.database)
    try:
        key = store.get_setting("device_key")
        counts = store.counts()
    finally:
        store.close()
    if not key:
        return Check("server", FAIL, "not enrolled: run `kiosk provision`")
    client = StoreClient(config.server_url, device_key=key, timeout=config.request_timeout,
                         ca_bundle=config.ca_bundle)
    started = time.monotonic()
    try:
        shop = client.config()
    except ServerRefused as e:
        hint = "; enrol again with `kiosk provision`" if e.status in (401, 403) else ""
        return Check("server", FAIL, f"{config.server_url} refused this device: {e}{hint}")
    except ServerError as e:
        return Check("server", FAIL, f"{config.server_url}: {e}; {counts['pending']} operations wait in the outbox")
    finally:
        client.close()
    took = (time.monotonic() - started) * 1000
    queue = f"outbox {counts['pending']} pending, {counts['failed']} failed"
    status = WARN if counts["failed"] else OK
    return Check("server", status, f"{config.server_url} ({shop.get('public_name', '?')}) answered in "
                                   f"{took:.0f} ms; {queue}")


def check_storage(config: KioskConfig, minimum_mb: int = 100) -> Check:
    folder = config.state_dir if config.state_dir.exists() else config.state_dir.parent
    free_mb = shutil.disk_usage(folder).free // 2**20
    if not os.access(folder, os.W_OK):
        return Check("storage", FAIL, f"{folder} is not writable")
    status = OK if free_mb >= minimum_mb else FAIL
    return Check("storage", status, f"{free_mb} MB free in {folder}")


def check_languages(config: KioskConfig, locale_dir: Path | None = None) -> Check:
    from . import i18n

    wanted = list(dict.fromkeys([config.language, *config.languages]))
    missing = i18n.missing_catalogues(wanted, *([locale_dir] if locale_dir else []))
    if missing:
        return Check("languages", FAIL, f"no compiled catalogue for {', '.join(missing)}: those screens would be "
                                        "English; reinstall the app from a wheel built by image_build/stage_files.sh")
    return Check("languages", OK, ", ".join(wanted))


def check_cards(config: KioskConfig) -> Check:
    """The card format this kiosk reads with (the shop's card_rules from its last /config, else [cards] of
    kiosk.toml: kiosk/card_formats.py) against a number printed on the shop's cards (the rules' sample)."""
    from drivers.scanner.decode import CardNumber, decode

    from . import card_formats

    shop_config = _shop_config_copy(config)
    rules, source = card_formats.effective(shop_config, config.card_rules)
    shape = f"{rules.describe()}; from {source}"
    sample = card_formats.sample(shop_config if source == card_formats.SHOP else None, config.cards)
    if not sample:
        return Check("cards", WARN, f"{shape}; set a sample (a number printed on your cards) to check it")
    decoded = decode(sample, rules)
    if isinstance(decoded, CardNumber):
        return Check("cards", OK, f"{sample} -> card {decoded.number} ({shape})")
    return Check("cards", FAIL, f"{sample} is not read as a card ({decoded.reason}): {shape}")


def _shop_config_copy(config: KioskConfig) -> dict:
    """The device's copy of its shop's /config (written at enrolment and on each refresh); {} before enrolment."""
    from .store import LocalStore

    if not config.database.exists():
        return {}
    store = LocalStore(config.database)
    try:
        return store.get_setting("shop_config", {}) or {}
    finally:
        store.close()


def run_all(config: KioskConfig, *, env: dict[str, str] | None = None, places: Places = Places(),
            pin_factory=None) -> list[Check]:
    env = dict(os.environ if env is None else env)
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("display", lambda: check_display(env, places)),
        ("scanners", lambda: check_scanners(config, places)),
        ("indicators", lambda: check_indicators(config, pin_factory=pin_factory)),
        ("modem", lambda: check_modem(places)),
        ("server", lambda: check_server(config)),
        ("storage", lambda: check_storage(config)),
        ("languages", lambda: check_languages(config)),
        ("cards", lambda: check_cards(config)),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(check())
        except Exception as e:  # one broken check must not hide the others' answers
            results.append(Check(name, FAIL, f"the check itself failed: {e.__class__.__name__}: {e}"))
    return results


def report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{c.status:<4}  {c.name:<{width}}  {c.detail}" for c in checks]
    failed = sum(c.status == FAIL for c in checks)
    lines.append(f"{failed} check(s) failed" if failed else "all checks passed")
    return "\n".join(lines)


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0
