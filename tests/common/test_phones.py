"""Phone masking (loyalty_common/phones.py), shared by the kiosk's screens and logs and the server's pages and logs."""

from __future__ import annotations

import pytest

from loyalty_common.phones import mask


@pytest.mark.parametrize(("e164", "masked"), [
    ("+380501234567", "+380 •• ••• •• 67"),  # Ukraine: 50 123 4567
    ("+77011234567", "+7 ••• ••• •• 67"),  # Kazakhstan: 701 123 4567
    ("+79123456789", "+7 ••• •••-••-89"),  # Russia: 912 345-67-89
    ("+84912345678", "+84 ••• ••• •78"),  # Vietnam: 912 345 678
    ("+12015550123", "+1 •••-•••-•• 23"),  # United States: 201-555-0123
])
def test_a_phone_keeps_its_countrys_grouping_and_only_the_code_and_last_two_digits(e164, masked):
    assert mask(e164) == masked
    assert sum(c.isdigit() for c in masked) == len(masked.split()[0]) - 1 + 2


@pytest.mark.parametrize(("raw", "masked"), [("", ""), (None, ""), ("+999123", "•• 23"), ("7", "••"),
                                             ("+3801", "•• 01")])
def test_what_is_not_a_phone_still_shows_no_more_than_two_digits(raw, masked):
    assert mask(raw) == masked
