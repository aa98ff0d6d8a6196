"""Phones grouped as the customer types them, in the national format of the shop's country (phonenumbers'
as-you-type formatter): the registration, "Find my card" and the till's phone entry all show `phone_as_typed`."""

from __future__ import annotations

import pytest

from kiosk.screens.format import phone_as_typed


@pytest.mark.parametrize(("country", "typed", "shown"), [
    ("UA", "0501234567", "050 123 4567"),
    ("UA", "+380501234567", "+380 50 123 4567"),
    ("KZ", "87012345678", "8 701 234 5678"),
    ("RU", "89161234567", "8 916 123-45-67"),
    ("VN", "0912345678", "0912 345 678"),
])
def test_a_whole_number_is_grouped_as_the_country_writes_it(country, typed, shown):
    assert phone_as_typed(typed, country) == shown


def test_groups_appear_while_typing_and_nothing_typed_shows_nothing():
    steps = [phone_as_typed("0501234567"[:n], "UA") for n in range(11)]
    assert steps[0] == "" and steps[3] == "050" and steps[6] == "050 123" and steps[10] == "050 123 4567"
    # every step keeps the digits typed, in order: a wrong digit stands out where it was typed
    assert all("".join(c for c in shown if c.isdigit()) == "0501234567"[:n] for n, shown in enumerate(steps))
    # more digits than a number has: shown as typed, not cut
    assert phone_as_typed("05012345678901", "UA").replace(" ", "") == "05012345678901"
