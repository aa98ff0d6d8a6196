"""firmware_config/udev/70-kiosk-scanners.rules: strict syntax, then evaluated against the properties udev
gives real devices (no udevadm here): which nodes become scanners and what names they get."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "firmware_config/udev/70-kiosk-scanners.rules"
PAIR = re.compile(r'\s*(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]*)\})?\s*(?P<op>==|!=|\+=|:=|=)\s*'
                  r'"(?P<value>(?:[^"\\]|\\.)*)"\s*(?:,|$)')
MATCH = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ATTRS", "ENV"}
ASSIGN = {"ENV", "GROUP", "MODE", "SYMLINK", "GOTO", "LABEL", "IMPORT"}


def parse(text: str) -> list[list[tuple[str, str | None, str, str]]]:
    """Rules as lists of (key, attr, op, value); raises on anything this file should not contain."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pairs, position = [], 0
        while position < len(line):
            found = PAIR.match(line, position)
            assert found, f"line {number}: cannot parse at {line[position:]!r}"
            key, attr, op, value = found["key"], found["attr"], found["op"], found["value"]
            if op in ("==", "!="):
                assert key in MATCH, f"line {number}: {key} cannot be matched"
            else:
                assert key in ASSIGN, f"line {number}: {key} cannot be assigned"
            if key in ("ENV", "ATTRS", "IMPORT"):
                assert attr, f"line {number}: {key} needs {{attribute}}"
            if key == "MODE":
                assert re.fullmatch(r"0[0-7]{3}", value), f"line {number}: bad MODE {value!r}"
            pairs.append((key, attr, op, value))
            position = found.end()
        rules.append(pairs)
    labels = {v for rule in rules for k, _, _, v in rule if k == "LABEL"}
    gotos = {v for rule in rules for k, _, _, v in rule if k == "GOTO"}
    assert gotos <= labels, f"GOTO without LABEL: {gotos - labels}"
    return rules


def glob_match(pattern: str, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, alternative) for alternative in pattern.split("|"))


def evaluate(rules, device: dict) -> dict:
    """Run the rules over one device event the way udev does (matches, GOTO/LABEL, assignments)."""
    env = dict(device.get("env", {}))
    result = {"env": env, "symlinks": [], "group": None, "mode": None}
    index = 0
    while index < len(rules):
        rule = rules[index]
        index += 1
        if rule[0][0] == "LABEL":
            continue
        ok = True
        for key, attr, op, value in rule:
            if op not in ("==", "!="):
                continue
            actual = {"ACTION": device.get("action", "add"), "SUBSYSTEM": device["subsystem"],
                      "KERNEL": device["kernel"], "ENV": env.get(attr or "", "")}.get(key)
            if key == "SUBSYSTEMS":
                hit = any(glob_match(value, s) for s in device.get("parents", ()))
            elif key == "ATTRS":
                hit = glob_match(value, device.get("attrs", {}).get(attr, ""))
            else:
                hit = glob_match(value, actual)
            if hit != (op == "=="):
                ok = False
                break
        if not ok:
            continue
        for key, attr, op, value in rule:
            if op in ("==", "!="):
                continue
            value = re.sub(r"\$env\{([^}]*)\}", lambda m: env.get(m[1], ""), value)
            if key == "GOTO":
                index = next(i for i, r in enumerate(rules) if r[0] == ("LABEL", None, "=", value))
            elif key == "ENV":
                env[attr] = value
            elif key == "SYMLINK":
                result["symlinks"].append(value)
            elif key in ("GROUP", "MODE"):
                result[key.lower()] = value
    return result


def keyboard_node(vendor: str, path_tag: str, name: str = "Honeywell Scanner", **env) -> dict:
    return {"subsystem": "input", "kernel": "event7", "parents": ["input", "usb"], "attrs": {"name": name},
            "env": {"ID_BUS": "usb", "ID_INPUT_KEYBOARD": "1", "ID_VENDOR_ID": vendor, "ID_PATH_TAG": path_tag,
                    **env}}


@pytest.fixture(scope="module")
def rules():
    return parse(RULES.read_text())


def test_rules_file_parses_strictly(rules) -> None:
    assert len(rules) > 10


@pytest.mark.parametrize("bad", ['SUBSYSTEM="tty"', 'GROUP=="input"', 'GOTO="nowhere"', 'ENV="1"',
                                 'MODE="rw"', 'KERNEL=="x" GROUP="y"'])
def test_the_parser_catches_mistakes(bad: str) -> None:
    with pytest.raises(AssertionError):
        parse(bad + "\n")


def test_two_identical_scanners_get_distinct_stable_names(rules) -> None:
    a = evaluate(rules, keyboard_node("0c2e", "platform-fd500000_pcie-usb-0_1_1_1_0"))
    b = evaluate(rules, keyboard_node("0c2e", "platform-fd500000_pcie-usb-0_1_2_1_0"))
    assert a["symlinks"] == ["input/by-id/kiosk-scanner-platform-fd500000_pcie-usb-0_1_1_1_0-event-kbd"]
    assert b["symlinks"] != a["symlinks"]
    assert (a["group"], a["mode"]) == ("input", "0660")
    assert a["env"]["LIBINPUT_IGNORE_DEVICE"] == "1"


def test_an_unlisted_maker_is_recognised_by_its_name(rules) -> None:
    result = evaluate(rules, keyboard_node("1a86", "pci-usb-0_3", name="USB Barcode Reader"))
    assert result["env"].get("KIOSK_SCANNER") == "1" and result["symlinks"]


def test_a_local_rule_can_mark_any_device_as_scanner(rules) -> None:
    result = evaluate(rules, keyboard_node("1a86", "pci-usb-0_3", name="HID 1a86:e026", KIOSK_SCANNER="1"))
    assert result["symlinks"] == ["input/by-id/kiosk-scanner-pci-usb-0_3-event-kbd"]


@pytest.mark.parametrize("device", [
    keyboard_node("046d", "pci-usb-0_4", name="Logitech USB Keyboard"),  # the technician's keyboard
    {**keyboard_node("0c2e", "pci-usb-0_1"), "action": "remove"},
    {**keyboard_node("0c2e", "pci-usb-0_1"), "env": {"ID_BUS": "usb", "ID_VENDOR_ID": "0c2e"}},  # mouse node
    {"subsystem": "input", "kernel": "mouse0", "env": {"ID_BUS": "usb", "ID_VENDOR_ID": "0c2e"}},
])
def test_other_devices_are_left_alone(rules, device: dict) -> None:
    result = evaluate(rules, device)
    assert result["symlinks"] == [] and result["group"] is None
    assert "LIBINPUT_IGNORE_DEVICE" not in result["env"]


def test_serial_scanner_port_and_modemmanager(rules) -> None:
    tty = {"subsystem": "tty", "kernel": "ttyACM0", "parents": ["tty", "usb"],
           "env": {"ID_VENDOR_ID": "05e0", "ID_PATH_TAG": "pci-usb-0_2_1_0"}}
    result = evaluate(rules, tty)
    assert result["env"]["ID_MM_DEVICE_IGNORE"] == "1"
    assert (result["group"], result["symlinks"]) == ("dialout", ["kiosk/scanner-pci-usb-0_2_1_0"])
    modem = {**tty, "env": {"ID_VENDOR_ID": "2c7c", "ID_PATH_TAG": "pci-usb-0_2_1_0"}}
    assert evaluate(rules, modem)["symlinks"] == []  # the modem has its own rules file
