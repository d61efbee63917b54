"""What the server-rendered pages share: the Jinja2 environment with French date filters,
the French 404 page, and calendar responses with ETag / 304.

Pages are French, server-rendered and usable without JavaScript; every French word is in
the templates (``web/templates``), dates are formatted with babel in the territory's time
zone.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
from babel.dates import format_datetime, format_time
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from notifications.ical import etag
from notifications.rendering import TextRenderer

__all__ = ["calendar_response", "national", "not_found", "templates", "text_renderer"]

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def french_day(value: datetime, tz: Any) -> str:
    text = format_datetime(value, "EEEE d MMMM y", tzinfo=tz, locale="fr_FR")
    return text[:1].upper() + text[1:]


def _short_day(value: datetime, tz: Any) -> str:
    return format_datetime(value, "EEE d MMM", tzinfo=tz, locale="fr_FR")


def french_time(value: datetime, tz: Any) -> str:
    return format_time(value, "HH'h'mm", tzinfo=tz, locale="fr_FR")


def national(e164: str | None) -> str:
    """A phone number as French people write it: 09 39 00 00 01 (empty when unknown)."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, "FR"), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return e164


templates.env.filters["day"] = french_day
templates.env.filters["short_day"] = _short_day
templates.env.filters["hm"] = french_time
templates.env.filters["national"] = national


@lru_cache(maxsize=8)
def text_renderer(tz: str) -> TextRenderer:
    return TextRenderer(tz=tz)


def not_found(request: Request) -> HTMLResponse:
    """The one French 404 of every unknown, revoked or foreign link: it reveals nothing."""
    response = templates.TemplateResponse(request, "not_found.html", status_code=404)
    response.headers["Cache-Control"] = "no-store"
    return response


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == tag for candidate in header.split(","))


def calendar_response(request: Request, body: bytes, *, filename: str, private: bool) -> Response:
    """text/calendar with a strong ETag; 304 with no body when the client has this version."""
    tag = etag(body)
    headers = {
        "ETag": tag,
        "Cache-Control": f"{'private' if private else 'public'}, max-age=900",
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    if private:
        headers["Referrer-Policy"] = "no-referrer"
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
