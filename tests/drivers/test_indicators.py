"""LEDs, buzzer and relay on gpiozero's MockFactory: the pin states over time for each named pattern."""

from __future__ import annotations

import os
import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from drivers.errors import DriverError
from drivers.indicators import (
    BUSY_BLINK,
    OFFLINE_BLINK,
    SHORT_STEPS,
    GpioIndicators,
    IndicatorConfig,
    NullIndicators,
    make_indicators,
    prepare_lgpio_workdir,
)

PINS = {"green": 17, "red": 27, "buzzer": 22, "relay": 23}
SLACK = 0.07  # a loaded 2-core test machine; gpiozero's own tests allow 0.05


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture
def indicators(factory):
    with GpioIndicators(IndicatorConfig(**PINS), pin_factory=factory) as ind:
        for name in PINS:
            pin(factory, name).clear_states()
        yield ind


def pin(factory: MockFactory, name: str):
    return factory.pin(PINS[name])


def timeline(p) -> list[tuple[bool, float | None]]:
    """[(state, seconds it was held)], the last state still held (None). Complete, unlike assert_states."""
    states = p.states
    return [(bool(s.state), states[i + 1].timestamp if i + 1 < len(states) else None) for i, s in enumerate(states)]


def assert_timeline(p, expected: list[tuple[bool, float | None]]) -> None:
    actual = timeline(p)
    assert [s for s, _ in actual] == [s for s, _ in expected], actual
    for (_, got), (_, want) in zip(actual, expected, strict=True):
        if want is not None:
            assert got is not None and abs(got - want) <= SLACK, actual


def test_ready_is_green_on_and_everything_else_off(factory, indicators) -> None:
    indicators.show("error")
    indicators.wait_idle(3)
    for name in PINS:
        pin(factory, name).clear_states()
    indicators.ready()
    assert [pin(factory, n).state for n in ("green", "red", "buzzer", "relay")] == [True, False, False, False]


def test_scan_ok_is_one_short_beep_with_green_on(factory, indicators) -> None:
    indicators.ready()
    indicators.scan_ok()
    assert indicators.wait_idle(3)
    beep, pause = SHORT_STEPS["scan_ok"][0][0], SHORT_STEPS["scan_ok"][1][0]
    assert_timeline(pin(factory, "buzzer"), [(False, None), (True, beep), (False, None)])
    assert_timeline(pin(factory, "green"), [(False, None), (True, None)])  # on from ready, never off
    assert pin(factory, "red").states[-1].state is False
    assert beep + pause < 0.5  # the cashier is not kept waiting


def test_error_is_two_beeps_with_red_then_back_to_ready(factory, indicators) -> None:
    indicators.ready()
    for name in PINS:
        pin(factory, name).clear_states()
    indicators.error()
    assert indicators.wait_idle(3)
    steps = SHORT_STEPS["error"]
    assert_timeline(pin(factory, "buzzer"), [(False, None), (True, steps[0][0]), (False, steps[1][0]),
                                             (True, steps[2][0]), (False, None)])
    assert_timeline(pin(factory, "red"), [(False, None), (True, sum(s[0] for s in steps)), (False, None)])
    assert_timeline(pin(factory, "green"), [(True, None), (False, sum(s[0] for s in steps)), (True, None)])


def test_lamp_test_shows_each_light_then_both_silently(factory, indicators) -> None:
    indicators.ready()
    for name in PINS:
        pin(factory, name).clear_states()
    indicators.show("lamp_test")
    assert indicators.wait_idle(3)
    step = SHORT_STEPS["lamp_test"][0][0]
    assert_timeline(pin(factory, "green"), [(True, step), (False, step), (True, None)])
    assert_timeline(pin(factory, "red"), [(False, step), (True, 2 * step), (False, None)])
    assert all(not s.state for s in pin(factory, "buzzer").states)


def test_beep_test_is_one_long_beep(factory, indicators) -> None:
    indicators.show("beep_test")
    assert indicators.wait_idle(3)
    assert_timeline(pin(factory, "buzzer"), [(False, None), (True, SHORT_STEPS["beep_test"][0][0]), (False, None)])


def test_busy_blinks_green(factory, indicators) -> None:
    indicators.busy()
    time.sleep(1.0)
    on, off = BUSY_BLINK
    states = timeline(pin(factory, "green"))
    assert len(states) >= 4
    # Every full on or off period has its length; the first entry is the state before, the last still runs.
    for state, held in states[1:-1]:
        assert abs(held - (on if state else off)) <= SLACK, states
    assert pin(factory, "red").state is False and pin(factory, "buzzer").state is False


def test_offline_keeps_green_and_blinks_red_slowly(factory, indicators) -> None:
    indicators.offline()
    time.sleep(OFFLINE_BLINK[0] + 0.2)
    assert_timeline(pin(factory, "red"), [(False, None), (True, OFFLINE_BLINK[0]), (False, None)])
    assert pin(factory, "green").state is True
    indicators.ready()
    assert pin(factory, "red").state is False
    time.sleep(0.3)
    assert pin(factory, "red").state is False  # the blink really stopped


def test_a_steady_pattern_waits_for_a_beep_to_finish(factory, indicators) -> None:
    indicators.ready()
    indicators.error()
    indicators.busy()  # a lookup starts while the error still sounds
    assert pin(factory, "red").state is True
    assert indicators.wait_idle(3)
    assert pin(factory, "red").state is False
    time.sleep(BUSY_BLINK[0] + BUSY_BLINK[1] + 0.1)
    assert len(timeline(pin(factory, "green"))) >= 4  # busy took over after the error, and blinks


def test_a_new_beep_replaces_the_one_playing(factory, indicators) -> None:
    indicators.error()
    time.sleep(0.05)
    indicators.scan_ok()
    assert indicators.wait_idle(3)
    assert indicators.history == ["error", "scan_ok"]
    assert pin(factory, "red").state is False and pin(factory, "green").state is True


def test_relay_switch_and_pulse(factory, indicators) -> None:
    indicators.set_relay(True)
    assert pin(factory, "relay").state is True
    indicators.set_relay(False)
    pin(factory, "relay").clear_states()
    indicators.pulse_relay(0.2)
    time.sleep(0.35)
    assert_timeline(pin(factory, "relay"), [(False, None), (True, 0.2), (False, None)])


def test_active_low_relay_board_is_driven_inverted(factory) -> None:
    config = IndicatorConfig(relay=23, relay_active_high=False)
    with GpioIndicators(config, pin_factory=factory) as ind:
        assert factory.pin(23).state is True  # off = high on such boards
        ind.set_relay(True)
        assert factory.pin(23).state is False


def test_close_turns_everything_off_and_is_safe_twice(factory) -> None:
    ind = GpioIndicators(IndicatorConfig(**PINS), pin_factory=factory)
    ind.error()
    ind.close()
    ind.close()
    assert [factory.pin(n).state for n in PINS.values()] == [False] * 4
    # The pins are released: a new owner can take them.
    GpioIndicators(IndicatorConfig(**PINS), pin_factory=factory).close()


def test_unknown_pattern_is_refused(indicators) -> None:
    with pytest.raises(ValueError, match="unknown indicator pattern"):
        indicators.show("party")


# --- the no-GPIO backend and the choice between them ---------------------------------------------------
def test_no_pins_configured_gives_the_null_backend() -> None:
    ind = make_indicators({})
    assert type(ind) is NullIndicators
    ind.ready()
    ind.scan_ok()
    ind.error()
    assert ind.history == ["ready", "scan_ok", "error"] and ind.pattern == "ready"
    assert ind.wait_idle(0)
    ind.close()


def test_backend_none_ignores_configured_pins() -> None:
    assert type(make_indicators({"backend": "none", "green": 17})) is NullIndicators


def test_mock_factory_is_chosen_through_the_same_call(factory) -> None:
    ind = make_indicators({"green": 17}, pin_factory=factory)
    assert isinstance(ind, GpioIndicators)
    ind.ready()
    assert factory.pin(17).state is True
    ind.close()


def test_machine_without_gpio_falls_back_or_fails_as_configured(monkeypatch) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(Device, "pin_factory", None)
    if os.path.exists("/dev/gpiochip0") or os.path.exists("/proc/device-tree/model"):
        pytest.skip("this machine has GPIO")
    with pytest.warns(Warning):  # gpiozero warns about each pin factory it could not load
        assert type(make_indicators({"green": 17})) is NullIndicators
    with pytest.raises(DriverError, match="gpio group"), pytest.warns(Warning):
        make_indicators({"green": 17, "backend": "gpio"})


@pytest.mark.parametrize(("raw", "complaint"), [
    ({"green": 17, "red": 17}, "share a pin"),
    ({"green": 99}, "indicators.green"),
    ({"green": True}, "indicators.green"),
    ({"backend": "pwm"}, "indicators.backend"),
    ({"buzzer_active_high": "yes"}, "buzzer_active_high"),
    ({"blue": 5}, "unknown setting"),
])
def test_config_mistakes_are_named(raw: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        IndicatorConfig.from_dict(raw)


def test_lgpio_gets_a_writable_working_directory(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("LG_WD", raising=False)
    monkeypatch.chdir("/")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert prepare_lgpio_workdir() == str(tmp_path) == os.environ["LG_WD"]
    monkeypatch.setenv("LG_WD", "/nonexistent/lg")
    assert prepare_lgpio_workdir() == str(tmp_path)
