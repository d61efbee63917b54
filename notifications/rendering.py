"""Rendering of the French texts residents read: SMS (GSM-7) and calendar descriptions.

SMS templates live in `templates/sms/<name>.txt` and are written by hand in
GSM-7. Every value printed into them passes through a `finalize` hook that
transliterates it (see `gsm.transliterate`), so a commune such as
"Châtel-Guyon" cannot turn a message into UCS-2 and triple its cost. The same
hook refuses None and raw dates: a missing field or an unformatted datetime is
a bug we want to see in tests, not "None" or "2026-12-08 13:30:00+00:00" on a
resident's phone.

Dates are formatted here without babel (which the web pages use): SMS need a
few fixed, short, GSM-7-safe forms ("mar. 8 déc.", "14h30") that no locale
database spells exactly that way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, PackageLoader, StrictUndefined

from notifications.gsm import septets, transliterate

__all__ = [
    "DEFAULT_TIMEZONE",
    "SmsRenderer",
    "TextRenderer",
    "clip",
    "format_long_date",
    "format_sms_date",
    "format_sms_time",
    "render_sms",
    "render_text",
    "reply_with_number",
]

DEFAULT_TIMEZONE = "Europe/Paris"

# French typography: the point of an abbreviation ("sept.", a clipped name) also
# ends the sentence, so "sept.." becomes "sept.". An ellipsis ("...") is left alone.
_DOUBLE_DOT = re.compile(r"(?<!\.)\.\.(?!\.)")
_WORD_SEPARATORS = (" ", "-")
_TRAILING_JUNK = " -,;:'(/"
_DANGLING_WORDS = frozenset(
    {"de", "du", "des", "d", "le", "la", "les", "l", "et", "ou", "a", "à", "au", "aux", "en", "son", "sa", "ses",
     "votre", "vos", "pour", "sur", "avec", "par", "un", "une"}
)  # fmt: skip

_SHORT_DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
# "août" has a û, which GSM-7 lacks; é is in GSM-7, so "févr." and "déc." keep it.
_SHORT_MONTHS = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "aout", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip
_LONG_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_LONG_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


def _in_zone(value: datetime, tz: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime given to a French date formatter; pass an aware one")
    return value.astimezone(ZoneInfo(tz))


def _local_date(value: date | datetime, tz: str) -> date:
    return _in_zone(value, tz).date() if isinstance(value, datetime) else value


def _day_number(day: int) -> str:
    return "1er" if day == 1 else str(day)


def format_sms_date(value: date | datetime, tz: str = DEFAULT_TIMEZONE) -> str:
    """Short French date for SMS, e.g. "mar. 8 déc." or "dim. 1er mars" (at most 13 septets).

    Aware datetimes are converted to `tz` first: stored times are UTC, residents
    live in Paris time.
    """
    local = _local_date(value, tz)
    return f"{_SHORT_DAYS[local.weekday()]} {_day_number(local.day)} {_SHORT_MONTHS[local.month - 1]}"


def format_sms_time(value: datetime | time, tz: str = DEFAULT_TIMEZONE) -> str:
    """French clock time for SMS: "14h30", "9h05", and "9h" on the hour."""
    if isinstance(value, datetime):
        value = _in_zone(value, tz).timetz()
    return f"{value.hour}h" if value.minute == 0 else f"{value.hour}h{value.minute:02d}"


def format_long_date(value: date | datetime, tz: str = DEFAULT_TIMEZONE) -> str:
    """Full French date for calendar descriptions, e.g. "mardi 8 décembre 2026"."""
    local = _local_date(value, tz)
    return (
        f"{_LONG_DAYS[local.weekday()]} {_day_number(local.day)} "
        f"{_LONG_MONTHS[local.month - 1]} {local.year}"
    )


def clip(value: object, limit: int) -> str:
    """Transliterate `value` and shorten it to at most `limit` septets, ending with ".".

    Used in templates on fields whose length is not bounded by the data (site
    names, list items) so that one long name cannot push an SMS into a second
    segment. Cuts after a whole word when that keeps at least half the room,
    drops dangling separators, and marks the cut with a dot.
    """
    if limit < 2:
        raise ValueError("clip() needs room for at least one character and the dot")
    text = transliterate(str(value)).strip()
    if septets(text) <= limit:
        return text
    cut = text
    while cut and septets(cut) > limit - 1:
        cut = cut[:-1]
    # Prefer ending on a whole word ("Salle polyvalente Georges.") over a stump
    # ("Salle polyvalente Georges-Bra."), unless that throws away half the room.
    boundary = max(cut.rfind(sep) for sep in _WORD_SEPARATORS)
    if text[len(cut)].isalnum() and boundary >= limit // 2:
        cut = cut[:boundary]
        # Nor on a word that announces the one cut off ("son code de." for "son code de
        # deverrouillage"): a resident would wait for the rest.
        words = cut.split(" ")
        while len(words) > 1 and words[-1].lower() in _DANGLING_WORDS and len(" ".join(words[:-1])) >= limit // 2:
            words.pop()
        cut = " ".join(words)
    return cut.rstrip(_TRAILING_JUNK) + "."


def reply_with_number(count: int) -> str:
    """The French instruction to answer a numbered list of `count` items."""
    if count < 1:
        raise ValueError("a numbered choice needs at least one item")
    if count == 1:
        return "Répondez 1"
    if count == 2:
        return "Répondez 1 ou 2"
    if count == 3:
        return "Répondez 1, 2 ou 3"
    return "Répondez par le numéro"


def _max_items(items: Sequence[Any], limit: int) -> Sequence[Any]:
    """Template guard: a list longer than the SMS can hold is a caller bug, not a truncation."""
    if len(items) > limit:
        raise ValueError(f"this template lists at most {limit} items, got {len(items)}")
    if not items:
        raise ValueError("this template needs at least one item")
    return items


def _finalize_sms(value: object) -> str:
    if value is None:
        raise TypeError("None reached an SMS template: guard optional fields with {% if %}")
    if isinstance(value, (date, time)):
        raise TypeError("format dates in SMS templates with |sms_date or |sms_time")
    return transliterate(str(value))


def _finalize_text(value: object) -> str:
    if value is None:
        raise TypeError("None reached a template: guard optional fields with {% if %}")
    return str(value)


def _environment(templates_dir: Path | None, tz: str, *, sms: bool) -> Environment:
    loader = (
        FileSystemLoader(templates_dir)
        if templates_dir is not None
        else PackageLoader("notifications", "templates")
    )
    env = Environment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=False,  # SMS and iCalendar text are not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=_finalize_sms if sms else _finalize_text,
    )
    env.filters["sms_date"] = lambda value: format_sms_date(value, tz)
    env.filters["sms_time"] = lambda value: format_sms_time(value, tz)
    env.filters["long_date"] = lambda value: format_long_date(value, tz)
    env.filters["clip"] = clip
    env.filters["max_items"] = _max_items
    env.filters["reply_with_number"] = reply_with_number
    return env


class SmsRenderer:
    """Renders `templates/sms/<name>.txt` into a GSM-7-safe French SMS body.

    Hold one per process (it caches compiled templates); `render_sms` builds a
    throw-away one for callers that render rarely.
    """

    def __init__(self, templates_dir: Path | None = None, tz: str = DEFAULT_TIMEZONE) -> None:
        self._env = _environment(templates_dir, tz, sms=True)

    def render(self, name: str, /, **fields: Any) -> str:
        body = self._env.get_template(f"sms/{name}.txt").render(**fields)
        return _DOUBLE_DOT.sub(".", body).strip()

    def template_names(self) -> list[str]:
        """Names accepted by `render`, so a test can render every one of them."""
        return sorted(
            path.removeprefix("sms/").removesuffix(".txt")
            for path in self._env.list_templates(filter_func=lambda p: p.startswith("sms/"))
            if path.endswith(".txt")
        )


class TextRenderer:
    """Renders other French texts (calendar summaries and descriptions) as plain UTF-8.

    No transliteration here: calendars and pages carry Unicode fine.
    """

    def __init__(self, templates_dir: Path | None = None, tz: str = DEFAULT_TIMEZONE) -> None:
        self._env = _environment(templates_dir, tz, sms=False)

    def render(self, path: str, /, **fields: Any) -> str:
        return self._env.get_template(path).render(**fields).strip()


def render_sms(name: str, /, **fields: Any) -> str:
    """Render one SMS template with the packaged templates and Paris time."""
    return SmsRenderer().render(name, **fields)


def render_text(path: str, /, **fields: Any) -> str:
    """Render one non-SMS template (path relative to `templates/`) as plain text."""
    return TextRenderer().render(path, **fields)
