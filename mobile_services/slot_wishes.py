"""Which offered slot a resident means when they answer with a day or a time.

Offered "1) jeu. 3 déc. 9h 2) jeu. 3 déc. 9h30 3) jeu. 3 déc. 10h", residents often
answer "celui de 10h", "jeudi a neuf heures et demie" or "le 3 decembre a 10h" instead of
a number. Only the few offered slots are candidates, so the answer need not name a full
date: whatever it names (a weekday, a day of the month, a date, an hour, "le plus tot")
must leave exactly one of them, else the dialogue asks for the number again.

Number words become digits with text2num; dates written with a month ("3 decembre",
"3/12", "demain") are read by dateparser, relative to the resident's today in the
territory's zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz

from mobile_services.commune_matching import normalise
from mobile_services.sms_phrasing import strip_courtesy, with_digits

__all__ = ["SlotWish", "fitting", "names_day_or_time", "nearest", "read_wish", "wished_offer"]

_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = re.compile(r"^(janv|fev|mars|avr|mai|juin|juil|aout|sept|oct|nov|dec)")
# "9h30", "9 h 30", "10 heures", "10h" (after normalise and number words as digits)
_TIME = re.compile(r"(?<!\d)(\d{1,2}) ?(?:heures?|heur|h)(?: ?(\d{2})(?!\d))?")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b")
_MONTH_NAMES = (
    "janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre", "novembre", "decembre",
)  # fmt: skip
_NOT = frozenset({"pas", "sauf", "eviter", "evitez", "jamais"})
_MORNING = frozenset({"matin", "matinee", "mat"})
_AFTERNOON = (("apres", "midi"), ("apresmidi",), ("aprem",), ("aprem",), ("apres", "dejeuner"), ("apres", "manger"))
_EARLIEST = (("plus", "tot"), ("au", "plus", "vite"), ("plus", "vite"), ("le", "premier", "creneau"))
_LATEST = (("plus", "tard"), ("le", "dernier"), ("la", "derniere"), ("dernier", "creneau"))
#: Hours before this, in an answer, may mean the afternoon ("2 heures" for 14h).
_AFTERNOON_BEFORE = 8
#: Where the morning ends, for "le matin" and "l'apres-midi".
_NOON = 12
#: A wished hour with no slot exactly then designates the slots this close to it.
_NEAR_MINUTES = 10


@dataclass(frozen=True)
class SlotWish:
    """What an answer says about the slot wanted; None where it says nothing."""

    weekday: int | None = None
    day: date | None = None
    day_of_month: int | None = None
    at: time | None = None
    earliest: bool = False
    latest: bool = False
    half_day: str | None = None
    """"am" ("le matin") or "pm" ("l'apres-midi")."""

    @property
    def says_something(self) -> bool:
        fields = (self.weekday, self.day, self.day_of_month, self.at, self.half_day)
        return any(v is not None for v in fields) or self.earliest or self.latest


def read_wish(text: str, *, today: date) -> SlotWish:
    """Read a weekday, a date, an hour or "le plus tot" from a French answer."""
    raw = re.sub(r"(\d)\s*[:.]\s*(\d{2})", r"\1h\2", text)  # "9:30", "9.30" -> "9h30"
    raw = _NUMERIC_DATE.sub(_month_spelled, raw)  # "3/12" -> "3 decembre" (normalise drops the slash)
    words = with_digits(strip_courtesy(normalise(raw).split()))
    if any(w in _NOT for w in words):
        return SlotWish()  # "pas jeudi", "sauf le matin": what is not wanted is no wish to fulfil
    joined = " ".join(words)
    at = _read_time(joined)
    without_time = _TIME.sub(" ", joined)
    weekday = _read_weekday(words)
    day = _read_date(without_time, today)
    day_of_month = None
    if day is None:
        numbers = [int(w.removesuffix("er")) for w in without_time.split() if re.fullmatch(r"\d{1,2}(er)?", w)]
        if len(numbers) == 1 and 1 <= numbers[0] <= 31 and (weekday is not None or at is not None):
            day_of_month = numbers[0]  # "le jeudi 3 a 9h", "mardi 1er"
    earliest = any(_contains(words, p) for p in _EARLIEST)
    latest = any(_contains(words, p) for p in _LATEST)
    return SlotWish(
        weekday=weekday, day=day, day_of_month=day_of_month, at=at, earliest=earliest, latest=latest,
        half_day=_read_half_day(words) if at is None else None,
    )  # fmt: skip


def names_day_or_time(text: str) -> bool:
    """Whether an answer speaks of a day or a time ("non je prefere le matin"), whatever today is."""
    return read_wish(text, today=date(2000, 1, 1)).says_something


def names_weekday_exactly(text: str) -> bool:
    """Whether a weekday is written out without a typo ("mardi", not "marie")."""
    return any(word in _WEEKDAYS for word in normalise(text).split())


def _read_half_day(words: Sequence[str]) -> str | None:
    afternoon = any(_contains(words, p) for p in _AFTERNOON)
    morning = any(w in _MORNING for w in words)
    if afternoon == morning:
        return None
    return "pm" if afternoon else "am"


def wished_offer(text: str, offers: Sequence[datetime], *, tz: ZoneInfo, today: date) -> int | None:
    """Index of the one offered slot the answer designates, or None (nothing said, none or several fit)."""
    found = fitting(read_wish(text, today=today), offers, tz=tz)
    return found[0] if found is not None and len(found) == 1 else None


def fitting(wish: SlotWish, starts: Sequence[datetime], *, tz: ZoneInfo) -> list[int] | None:
    """Indexes of the slots that fit the wish, in the order given; None when the wish says nothing.

    An hour matches exactly, else the slots within `_NEAR_MINUTES` of it ("10h" for a
    planned 9h57): planned stops do not always start on the hour.
    """
    if not wish.says_something:
        return None
    local = [start.astimezone(tz) for start in starts]
    order = sorted(range(len(local)), key=lambda i: local[i])
    if wish.earliest or wish.latest:
        if wish.at is not None or wish.day is not None or wish.weekday is not None or wish.half_day or not order:
            return []  # "le plus tot jeudi": keep it simple, ask for the number
        return [order[0] if wish.earliest else order[-1]]
    on_day = [i for i in range(len(local)) if _on_day(wish, local[i])]  # the caller's order: own commune first
    if wish.at is None:
        return on_day
    exact = [i for i in on_day if _minutes_from(wish.at, local[i]) == 0]
    return exact or [i for i in on_day if _minutes_from(wish.at, local[i]) <= _NEAR_MINUTES]


def nearest(wish: SlotWish, starts: Sequence[datetime], *, tz: ZoneInfo, today: date, count: int = 3) -> list[int]:
    """Indexes of the ``count`` slots closest to a wish that none fits, closest first.

    "mercredi" when the bus comes on Tuesday and Thursday, "jeudi a 15h" when Thursday's
    stop ends at 10h30: rather than "nothing then", the nearest ones. Closeness is the
    number of days from the wished date (or, for a weekday, between weekdays: "mercredi"
    is one day from Tuesday and from Thursday), then the minutes from the wished hour, the wished half-day counting as its middle.
    Ties keep the caller's order (the resident's own commune first).
    """
    if not wish.says_something or not starts:
        return []
    local = [start.astimezone(tz) for start in starts]
    wished_day = wish.day
    if wished_day is None and wish.day_of_month is not None:
        wished_day = next(
            (today + timedelta(days=n) for n in range(62) if (today + timedelta(days=n)).day == wish.day_of_month), None
        )
    wished_minutes: int | None = None
    if wish.at is not None:
        hour = wish.at.hour + 12 if wish.at.hour < _AFTERNOON_BEFORE else wish.at.hour
        wished_minutes = hour * 60 + wish.at.minute
    elif wish.half_day is not None:
        wished_minutes = 10 * 60 if wish.half_day == "am" else 15 * 60

    def distance(i: int) -> tuple[int, int, datetime]:
        start = local[i]
        if wished_day is not None:
            days = abs((start.date() - wished_day).days)
        elif wish.weekday is not None:  # "jeudi": any Thursday, else the weekdays either side
            apart = abs(start.weekday() - wish.weekday)
            days = min(apart, 7 - apart)
        else:
            days = 0
        minutes = abs(start.hour * 60 + start.minute - wished_minutes) if wished_minutes is not None else 0
        return days, minutes, start

    return sorted(range(len(local)), key=distance)[:count]


def _on_day(wish: SlotWish, start: datetime) -> bool:
    if wish.half_day is not None and (start.hour < _NOON) != (wish.half_day == "am"):
        return False
    if wish.weekday is not None and start.weekday() != wish.weekday:
        return False
    if wish.day is not None and start.date() != wish.day:
        return False
    return wish.day_of_month is None or start.day == wish.day_of_month


def _minutes_from(at: time, start: datetime) -> int:
    """Minutes between the wished time and a slot's start ("2 heures" may mean 14h)."""
    hours = [at.hour] + ([at.hour + 12] if at.hour < _AFTERNOON_BEFORE else [])
    return min(abs(start.hour * 60 + start.minute - (hour * 60 + at.minute)) for hour in hours)


def _month_spelled(match: re.Match[str]) -> str:
    month = int(match.group(2))
    return f"{match.group(1)} {_MONTH_NAMES[month - 1]}" if 1 <= month <= 12 else match.group(0)


def _read_time(joined: str) -> time | None:
    found = list(_TIME.finditer(joined))
    if len(found) != 1:
        return None
    match = found[0]
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    rest = joined[match.end() :].split()
    if not match.group(2):
        if rest[:2] in (["et", "demi"], ["et", "demie"]):
            minute = 30
        elif rest[:2] == ["et", "quart"]:
            minute = 15
        elif rest[:3] in (["moins", "le", "quart"],) or rest[:2] == ["moins", "quart"]:
            hour, minute = hour - 1, 45
        elif rest[:1] and rest[0].isdigit() and len(rest[0]) == 2:
            minute = int(rest[0])  # "14 heures 30" as text2num writes "quatorze heures trente"
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def _read_weekday(words: Sequence[str]) -> int | None:
    found = {
        index
        for word in words
        if len(word) >= 4
        for index, name in enumerate(_WEEKDAYS)
        if word == name or fuzz.ratio(word, name) >= 80
    }
    return found.pop() if len(found) == 1 else None


def _read_date(text: str, today: date) -> date | None:
    """A date with its month ("3 decembre") or a relative one ("demain"), via dateparser."""
    words = text.split()
    if "apres" in words and "demain" in words:
        return today + timedelta(days=2)  # dateparser reads the unaccented "apres demain" as "demain"
    if "demain" in words:
        return today + timedelta(days=1)
    if not any(_MONTHS.match(w) for w in words):
        return None
    from dateparser.search import search_dates  # slow to import; only answers naming a month need it

    settings = {
        "RELATIVE_BASE": datetime.combine(today, time(12, 0)),
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": "DMY",
    }
    text = re.sub(r"\b1er\b", "1", text)  # dateparser skips "1er" and would keep today's day
    found = search_dates(text, languages=["fr"], settings=settings) or []
    dates = {
        value.date()
        for part, value in found
        if any(_MONTHS.match(w) for w in part.split()) and any(ch.isdigit() for ch in part)  # "decembre" alone: no day
    }
    return dates.pop() if len(dates) == 1 else None


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    span = len(phrase)
    return any(tuple(words[i : i + span]) == tuple(phrase) for i in range(len(words) - span + 1))
