"""Key events of one keyboard-mode scanner -> scanned text (`KeystrokeAssembler`), fed with real
`evdev.InputEvent` sequences as the kernel delivers them."""

from __future__ import annotations

from evdev import InputEvent, ecodes
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.scanner.keystrokes import Completed, KeystrokeAssembler, KeystrokeSettings, Rejected
from tests.drivers.evdev_fakes import key, scanner_events, syn_dropped

T0 = 1_700_000_000.0
URL = "https://shop.example/c?card=10042&ref=qr_1%2Fa#x~y"

# A scan of "10001" + Enter as evtest shows it from a Honeywell scanner: MSC_SCAN (HID usage), key, SYN.
RECORDED_10001 = [
    (1700000000, 100000, 4, 4, 0x7001E), (1700000000, 100000, 1, 2, 1), (1700000000, 100000, 0, 0, 0),
    (1700000000, 100974, 4, 4, 0x7001E), (1700000000, 100974, 1, 2, 0), (1700000000, 100974, 0, 0, 0),
    (1700000000, 101980, 4, 4, 0x70027), (1700000000, 101980, 1, 11, 1), (1700000000, 101980, 0, 0, 0),
    (1700000000, 102971, 4, 4, 0x70027), (1700000000, 102971, 1, 11, 0), (1700000000, 102971, 0, 0, 0),
    (1700000000, 103968, 4, 4, 0x70027), (1700000000, 103968, 1, 11, 1), (1700000000, 103968, 0, 0, 0),
    (1700000000, 104975, 4, 4, 0x70027), (1700000000, 104975, 1, 11, 0), (1700000000, 104975, 0, 0, 0),
    (1700000000, 105972, 4, 4, 0x70027), (1700000000, 105972, 1, 11, 1), (1700000000, 105972, 0, 0, 0),
    (1700000000, 106969, 4, 4, 0x70027), (1700000000, 106969, 1, 11, 0), (1700000000, 106969, 0, 0, 0),
    (1700000000, 107966, 4, 4, 0x7001E), (1700000000, 107966, 1, 2, 1), (1700000000, 107966, 0, 0, 0),
    (1700000000, 108963, 4, 4, 0x7001E), (1700000000, 108963, 1, 2, 0), (1700000000, 108963, 0, 0, 0),
    (1700000000, 109960, 4, 4, 0x70028), (1700000000, 109960, 1, 28, 1), (1700000000, 109960, 0, 0, 0),
    (1700000000, 110957, 4, 4, 0x70028), (1700000000, 110957, 1, 28, 0), (1700000000, 110957, 0, 0, 0),
]


def feed(assembler: KeystrokeAssembler, events) -> list:
    results = []
    for event in events:
        results += assembler.feed(event)
    return results


def payloads(results) -> list[str]:
    return [r.payload for r in results if isinstance(r, Completed)]


def test_recorded_scan_of_a_card_number() -> None:
    results = feed(KeystrokeAssembler(), [InputEvent(*raw) for raw in RECORDED_10001])
    assert results == [Completed("10001", 1700000000.109960)]


def test_url_with_shifted_punctuation_comes_out_exactly() -> None:
    assert payloads(feed(KeystrokeAssembler(), scanner_events(URL + "\n"))) == [URL]


def test_every_printable_ascii_character_of_the_us_layout() -> None:
    text = "".join(chr(c) for c in range(32, 127))
    assert payloads(feed(KeystrokeAssembler(), scanner_events(text + "\n"))) == [text]


def test_caps_lock_inverts_letter_case_only() -> None:
    caps = key(T0, ecodes.KEY_CAPSLOCK, 1) + key(T0 + 0.001, ecodes.KEY_CAPSLOCK, 0)
    events = caps + scanner_events("Ab1-c\n", start=T0 + 0.01)
    assert payloads(feed(KeystrokeAssembler(), events)) == ["aB1-C"]
    # Pressed again, Caps Lock is off.
    assembler = KeystrokeAssembler()
    events = caps + caps + scanner_events("Ab\n", start=T0 + 0.01)
    assert payloads(feed(assembler, events)) == ["Ab"]


def test_autorepeat_of_a_held_key_adds_no_characters() -> None:
    events = scanner_events("10001\n", hold_repeats={0: 3, 3: 1})
    assert sum(1 for e in events if e.type == ecodes.EV_KEY and e.value == 2) == 4
    assert payloads(feed(KeystrokeAssembler(), events)) == ["10001"]


def test_tab_ends_a_scan_when_configured_and_is_data_otherwise() -> None:
    assert payloads(feed(KeystrokeAssembler(), scanner_events("10001\t"))) == ["10001"]
    enter_only = KeystrokeAssembler(KeystrokeSettings(terminators=frozenset({"enter"})))
    assert payloads(feed(enter_only, scanner_events("100\t01\n"))) == ["100\t01"]


def test_fast_burst_of_back_to_back_scans_in_one_read() -> None:
    events = []
    for i in range(20):
        events += scanner_events(f"{10001 + i}\n", start=T0 + i * 0.013, step=0.0001)
    results = feed(KeystrokeAssembler(), events)
    assert payloads(results) == [str(10001 + i) for i in range(20)]


def test_all_events_with_one_timestamp_still_assemble() -> None:
    # Some scanners fill whole USB reports at once; the kernel then stamps many keys alike.
    assert payloads(feed(KeystrokeAssembler(), scanner_events("5901234123457\n", step=0.0))) == ["5901234123457"]


def test_syn_dropped_spoils_the_whole_scan_and_the_next_one_is_clean() -> None:
    events = scanner_events("100", start=T0) + [syn_dropped(T0 + 0.01)]
    # The kernel lost some keys ("0"); the rest of the scan follows, then the terminator.
    events += key(T0 + 0.02, ecodes.KEY_1, 0)[1:]  # ...the queue resumes mid-report, with its SYN_REPORT
    events += scanner_events("1\n", start=T0 + 0.03)
    assembler = KeystrokeAssembler()
    results = feed(assembler, events)
    assert results == [Rejected("syn_dropped", "100")]
    assert assembler.wants_resync
    assert payloads(feed(assembler, scanner_events("10002\n", start=T0 + 1.0))) == ["10002"]


def test_resync_after_dropped_events_forgets_a_shift_whose_release_was_lost() -> None:
    assembler = KeystrokeAssembler()
    events = key(T0, ecodes.KEY_LEFTSHIFT, 1) + [syn_dropped(T0 + 0.001)]
    events += key(T0 + 0.002, ecodes.KEY_A, 0)[1:]
    feed(assembler, events)
    assembler.resync(active_keys=[])  # the kernel says nothing is held any more
    assert payloads(feed(assembler, scanner_events("ab\n", start=T0 + 1.0))) == ["ab"]


def test_a_scan_without_terminator_is_discarded_after_the_timeout() -> None:
    assembler = KeystrokeAssembler(KeystrokeSettings(partial_timeout=0.5))
    feed(assembler, scanner_events("1000", start=T0))
    assert assembler.partial == "1000"
    deadline = assembler.deadline()
    assert deadline is not None and deadline > T0
    assert assembler.expire(deadline - 0.01) == []
    assert assembler.expire(deadline) == [Rejected("partial_timeout", "1000")]
    assert assembler.partial == "" and assembler.deadline() is None


def test_a_late_next_scan_is_not_glued_to_a_stale_partial() -> None:
    assembler = KeystrokeAssembler(KeystrokeSettings(partial_timeout=0.5))
    results = feed(assembler, scanner_events("99", start=T0) + scanner_events("10001\n", start=T0 + 2))
    assert results == [Rejected("partial_timeout", "99"), Completed("10001", results[-1].at)]


def test_idle_end_completes_a_scan_from_a_scanner_without_suffix() -> None:
    assembler = KeystrokeAssembler(KeystrokeSettings(terminators=frozenset(), idle_end=0.1))
    results = feed(assembler, scanner_events("10001", start=T0) + scanner_events("10002", start=T0 + 1))
    assert payloads(results) == ["10001"]
    assert payloads(assembler.expire(T0 + 2)) == ["10002"]


def test_unmapped_key_rejects_the_scan_instead_of_guessing() -> None:
    events = scanner_events("100", start=T0) + key(T0 + 0.01, ecodes.KEY_F5, 1) + key(T0 + 0.011, ecodes.KEY_F5, 0)
    events += scanner_events("01\n", start=T0 + 0.02)
    assert feed(KeystrokeAssembler(), events) == [Rejected("unmapped_key", "100")]


def test_ctrl_bracket_gives_gs1_separator() -> None:
    events = scanner_events("01", start=T0) + key(T0 + 0.01, ecodes.KEY_LEFTCTRL, 1)
    events += key(T0 + 0.011, ecodes.KEY_RIGHTBRACE, 1) + key(T0 + 0.012, ecodes.KEY_RIGHTBRACE, 0)
    events += key(T0 + 0.013, ecodes.KEY_LEFTCTRL, 0) + scanner_events("10\n", start=T0 + 0.02)
    assert payloads(feed(KeystrokeAssembler(), events)) == ["01\x1d10"]


def test_alt_keypad_code_types_a_character_outside_the_layout() -> None:
    events = key(T0, ecodes.KEY_LEFTALT, 1)
    for i, code in enumerate((ecodes.KEY_KP0, ecodes.KEY_KP2, ecodes.KEY_KP3, ecodes.KEY_KP3)):
        events += key(T0 + 0.001 * (i + 1), code, 1) + key(T0 + 0.001 * (i + 1), code, 0)
    events += key(T0 + 0.01, ecodes.KEY_LEFTALT, 0) + scanner_events("t\n", start=T0 + 0.02)
    assert payloads(feed(KeystrokeAssembler(), events)) == ["\xe9t"]


def test_overlong_scan_is_rejected() -> None:
    assembler = KeystrokeAssembler(KeystrokeSettings(max_length=8))
    assert feed(assembler, scanner_events("1234567890\n")) == [Rejected("too_long", "12345678")]


def test_lone_enter_is_no_scan() -> None:
    assert feed(KeystrokeAssembler(), scanner_events("\n\n")) == []


# --- properties ---------------------------------------------------------------------------------------
printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=150)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(printable, min_size=1, max_size=4),
       step=st.sampled_from([0.0, 0.0001, 0.004]))
def test_any_ascii_text_typed_by_a_scanner_comes_out_unchanged(texts: list[str], step: float) -> None:
    events = []
    for i, text in enumerate(texts):
        events += scanner_events(text + "\n", start=T0 + i * 2.0, step=step)
    assert payloads(feed(KeystrokeAssembler(), events)) == texts


raw_events = st.lists(st.tuples(
    st.sampled_from([ecodes.EV_SYN, ecodes.EV_KEY, ecodes.EV_MSC, ecodes.EV_LED]),
    st.integers(0, 260), st.sampled_from([0, 1, 2, -1, 70000]), st.floats(0, 5)), max_size=200)


@settings(max_examples=300, deadline=None)
@given(raw=raw_events, idle=st.sampled_from([None, 0.05]))
def test_no_event_sequence_makes_the_assembler_raise(raw, idle) -> None:
    assembler = KeystrokeAssembler(KeystrokeSettings(idle_end=idle, max_length=64))
    t = T0
    for kind, code, value, dt in raw:
        t += dt / 100
        sec = int(t)
        code = code % 4 if kind == ecodes.EV_SYN else code
        for result in assembler.feed(InputEvent(sec, int((t - sec) * 1e6), kind, code, value)):
            assert isinstance(result, Completed | Rejected)
            if isinstance(result, Completed):
                assert result.payload and len(result.payload) <= 64
        assembler.expire(t)
    assembler.resync([ecodes.KEY_LEFTSHIFT])
