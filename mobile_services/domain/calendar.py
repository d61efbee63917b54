"""Weeks, working days and public holidays, as the planner needs them.

Public holidays depend on the département: Alsace-Moselle (57, 67, 68) keeps Good
Friday and St Stephen's Day from the local law, overseas départements have their own
(abolition of slavery...). ``holidays`` knows them all; we only map a département
code to its subdivision.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from mobile_services.domain.exceptions import InvalidInput

WEEK_RE = re.compile(r"^(?P<year>\d{4})-W(?P<week>\d{2})$")
FRENCH_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_SUBDIVISIONS = {"57": "57", "67": "6AE", "68": "6AE", "971": "971", "972": "972", "973": "973", "974": "974", "976": "976"}


def parse_week(text: str) -> tuple[int, int]:
    """'2026-W49' -> (2026, 49), with a French error for anything else."""
    match = WEEK_RE.match(text.strip())
    if match:
        year, week = int(match["year"]), int(match["week"])
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            pass
        else:
            return year, week
    raise InvalidInput(
        f"invalid ISO week {text!r} (expected e.g. 2026-W49)",
        f"Semaine invalide « {text} » : attendu par exemple 2026-W49.",
    )


def week_days(week: str) -> list[date]:
    """The seven dates of an ISO week, Monday first."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    return [monday + timedelta(days=i) for i in range(7)]


def week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


@lru_cache(maxsize=64)
def _holidays(departement: str, year: int) -> dict[date, str]:
    subdiv = _SUBDIVISIONS.get(departement)
    return dict(holidays.France(years=year, subdiv=subdiv, language="fr"))


def public_holiday(day: date, departement: str) -> str | None:
    """French name of the public holiday on ``day`` in that département, if any."""
    return _holidays(departement, day.year).get(day)


def local_datetime(day: date, minute_of_day: int, tz: ZoneInfo) -> datetime:
    """Wall-clock minute of a local day -> aware datetime (correct across DST changes)."""
    hours, minutes = divmod(minute_of_day, 60)
    return datetime.combine(day, time(hours, minutes), tzinfo=tz)


def minute_of_day(moment: datetime, tz: ZoneInfo) -> int:
    local = moment.astimezone(tz)
    return local.hour * 60 + local.minute
