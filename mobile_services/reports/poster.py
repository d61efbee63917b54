"""The A4 poster of a commune for the mairie's board: next dates, how to book by SMS, and
a QR code (segno) to the commune page. Rendered to PDF with WeasyPrint, on one page.

The French text is in ``templates/poster.html``; the QR code is embedded as a PNG (crisp
at print size, and readable back from the PDF by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain.exceptions import NotFound
from mobile_services.service_layer.calendars import StopView, commune_stops
from mobile_services.storage import tables as t

__all__ = ["POSTER_STOPS", "Poster", "poster_data", "render_poster_html", "write_poster"]

#: At most this many dates on the poster (the page and the QR code say the rest).
POSTER_STOPS = 6
POSTER_WEEKS = 8

_TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, kw_only=True)
class Poster:
    commune: str
    insee_code: str
    page_url: str
    sms_number: str
    keyword: str
    stops: list[StopView]
    qr_data_uri: str


def poster_data(session: Session, insee: str, now: datetime, settings: Settings, *, territory_id: int | None = None) -> Poster:
    from mobile_services.web.pages import national

    query = select(t.Commune, t.Territory).join(t.Territory, col(t.Territory.id) == t.Commune.territory_id).where(t.Commune.insee_code == insee)
    if territory_id is not None:
        query = query.where(t.Commune.territory_id == territory_id)
    row = session.exec(query.order_by(col(t.Commune.id))).first()
    if row is None:
        raise NotFound(f"no commune {insee}", f"Commune de code INSEE {insee} introuvable.")
    commune, territory = row
    stops = [s for s in commune_stops(session, commune.insee_code, now, now + timedelta(weeks=POSTER_WEEKS)) if not s.cancelled]
    url = f"{settings.base_url}/communes/{commune.insee_code}"
    qr = segno.make(url, error="m")
    return Poster(
        commune=commune.name, insee_code=commune.insee_code, page_url=url, sms_number=national(territory.sms_number),
        keyword="RDV", stops=stops[:POSTER_STOPS], qr_data_uri=qr.png_data_uri(scale=10, border=4),
    )  # fmt: skip


def render_poster_html(poster: Poster, settings: Settings) -> str:
    from mobile_services.web.pages import french_day, french_time  # the pages' French date filters

    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["day"] = french_day
    env.filters["hm"] = french_time
    context: dict[str, Any] = {"poster": poster, "tz": settings.tz}
    return env.get_template("poster.html").render(**context)


def write_poster(poster: Poster, settings: Settings, path: Path) -> Path:
    from weasyprint import HTML  # heavy import, only for the poster

    path.parent.mkdir(parents=True, exist_ok=True)
    HTML(string=render_poster_html(poster, settings)).write_pdf(path)
    return path
