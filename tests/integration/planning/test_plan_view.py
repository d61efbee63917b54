"""The drawn plan: a self-contained page with the map, the timeline and the left-out communes."""

from __future__ import annotations

from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain import commands
from mobile_services.reports.plan_view import render_plan_html
from mobile_services.storage import tables as t

from .test_plan_week import _bus, small_valley  # noqa: F401  (fixture)


def test_plan_page_draws_every_route_and_commune(engine: Engine, small_valley: int) -> None:  # noqa: F811
    outcome = _bus(engine).handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    with Session(engine) as session:
        html = render_plan_html(session, outcome.plan_id, ZoneInfo("Europe/Paris"))
        routes = session.exec(select(t.Route).where(t.Route.plan_id == outcome.plan_id)).all()
        communes = session.exec(select(t.Commune)).all()
    svg = html[html.index("<svg"): html.index("</svg>") + len("</svg>")]
    tree = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}" if tree.tag.startswith("{") else ""
    assert len(tree.findall(f"{ns}polyline")) == len(routes) > 0
    assert len(tree.findall(f"{ns}circle")) == len(communes)
    assert html.count('class="lane"') == len(routes)
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # works offline
    if outcome.kpis["communes_visited"] < len(communes):
        assert "Communes sans arrêt cette semaine" in html
