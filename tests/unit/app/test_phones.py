"""Numbers typed by coordinators: one that cannot get SMS means that person is not texted."""

from __future__ import annotations

import pytest

from mobile_services.domain.phones import reachable_mobile


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("06 99 00 00 01", "+33699000001"),
        ("+33 7 56 00 00 01", "+33756000001"),
        ("0033699000001", "+33699000001"),
        ("05 55 00 00 00", None),  # a landline: no SMS
        ("06 39 98 00 01", None),  # not an allocated number
        ("pas de portable", None),
        ("", None),
        (None, None),
    ],
)
def test_reachable_mobile(typed: str | None, expected: str | None) -> None:
    assert reachable_mobile(typed) == expected
