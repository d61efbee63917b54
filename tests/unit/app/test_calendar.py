"""Weeks and public holidays by département, DST-safe local times."""

from __future__ import annotations

from datetime import UTC, date
from zoneinfo import ZoneInfo

import pytest

from mobile_services.domain.calendar import local_datetime, parse_week, public_holiday, week_days, week_of
from mobile_services.domain.exceptions import InvalidInput

PARIS = ZoneInfo("Europe/Paris")


def test_week_days_start_on_monday() -> None:
    days = week_days("2026-W49")
    assert days[0] == date(2026, 11, 30)
    assert days[-1] == date(2026, 12, 6)
    assert week_of(days[3]) == "2026-W49"


@pytest.mark.parametrize("text", ["2026-49", "2026-W54", "W49", "", "2026-W00"])
def test_bad_weeks_are_explained_in_french(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_week(text)
    assert "Semaine invalide" in caught.value.french()


def test_alsace_moselle_has_two_more_holidays() -> None:
    good_friday = date(2026, 4, 3)
    st_stephen = date(2026, 12, 26)
    assert public_holiday(good_friday, "57") is not None
    assert public_holiday(good_friday, "67") is not None
    assert public_holiday(st_stephen, "68") is not None
    assert public_holiday(good_friday, "23") is None
    assert public_holiday(st_stephen, "23") is None


def test_national_holidays_everywhere() -> None:
    assert public_holiday(date(2026, 11, 11), "23") == "Armistice"
    assert public_holiday(date(2026, 5, 14), "48") == "Ascension"
    assert public_holiday(date(2026, 11, 12), "15") is None


def test_local_times_follow_dst_changes() -> None:
    # 29 March 2026: clocks go forward; 09:00 is UTC+2 that day, UTC+1 the day before.
    assert local_datetime(date(2026, 3, 28), 9 * 60, PARIS).astimezone(UTC).hour == 8
    assert local_datetime(date(2026, 3, 29), 9 * 60, PARIS).astimezone(UTC).hour == 7
    # 25 October 2026: back to UTC+1.
    assert local_datetime(date(2026, 10, 24), 9 * 60, PARIS).astimezone(UTC).hour == 7
    assert local_datetime(date(2026, 10, 25), 9 * 60, PARIS).astimezone(UTC).hour == 8
