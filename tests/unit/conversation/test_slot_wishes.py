"""Choosing an offered slot by its day or time ("jeudi a 10h", "neuf heures et demie")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from mobile_services.slot_wishes import SlotWish, fitting, read_wish, wished_offer

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 23)  # Monday
# Thursday 3 December 2026, 9h, 9h30, 10h in Paris (UTC+1)
THURSDAY = [datetime(2026, 12, 3, 8, 0, tzinfo=UTC), datetime(2026, 12, 3, 8, 30, tzinfo=UTC), datetime(2026, 12, 3, 9, 0, tzinfo=UTC)]
# Tuesday 1 December 10h, Wednesday 2 December 10h, Wednesday 2 December 14h
SPREAD = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 2, 9, 0, tzinfo=UTC), datetime(2026, 12, 2, 13, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("9h30", 1),
        ("9:30", 1),
        ("a 9 h 30 svp", 1),
        ("neuf heures et demie", 1),
        ("9 heure et demi", 1),
        ("10 h moins le quart", None),  # 9h45 is not offered
        ("dix heures", 2),
        ("celui de 10h", 2),
        ("jeudi a 9h", 0),
        ("le jeudi 3 a 9h", 0),
        ("le 3 decembre a 10h", 2),
        ("le 3/12 a 10h", 2),
        ("le plus tot possible", 0),
        ("le plus tard", 2),
        ("jeudi", None),  # all three are on Thursday
        ("mardi 9h", None),  # no Tuesday offered
        ("14h", None),
        ("bonjour madame", None),
        ("pas jeudi", None),  # what is not wanted is no wish
        ("oui mais pas a 9h", None),
    ],
)
def test_one_offer_on_a_thursday(text: str, index: int | None) -> None:
    assert wished_offer(text, THURSDAY, tz=PARIS, today=TODAY) == index


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("mardi", 0),
        ("le mardi 1er", 0),
        ("le 1er decembre", 0),
        ("mecredi 14h", 2),  # typo in the weekday
        ("mercredi a 2 heures", 2),  # "2 heures" in the afternoon
        ("mercredi", None),  # two on Wednesday
        ("10h", None),  # two at 10h
        ("mercredi 10h", 1),
        ("demain", None),  # Tuesday 24 November: nothing offered then
        ("mercredi apres midi", 2),
        ("mercredi matin", 1),
        ("l'aprem", 2),
        ("le matin", None),  # Tuesday and Wednesday mornings
    ],
)
def test_offers_on_several_days(text: str, index: int | None) -> None:
    assert wished_offer(text, SPREAD, tz=PARIS, today=TODAY) == index


def test_a_wish_reads_each_part() -> None:
    assert read_wish("jeudi 3 decembre a quatorze heures trente", today=TODAY) == SlotWish(
        weekday=3, day=date(2026, 12, 3), at=datetime(2026, 1, 1, 14, 30).time()
    )
    assert not read_wish("je ne sais pas", today=TODAY).says_something


def test_fitting_slots_keep_the_callers_order() -> None:
    # free_slots ranks the resident's own commune first: a wish must not reorder by time
    later_first = [SPREAD[2], SPREAD[0], SPREAD[1]]
    assert fitting(read_wish("10h", today=TODAY), later_first, tz=PARIS) == [1, 2]
