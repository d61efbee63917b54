"""The drawn plan: a self-contained page with the map, the timeline and the left-out communes."""

from __future__ import annotations

import re
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain import commands
from mobile_services.reports.plan_view import render_plan_html, route_numbers
from mobile_services.storage import tables as t

from .test_plan_week import _bus, small_valley  # noqa: F401  (fixture)

PARIS = ZoneInfo("Europe/Paris")
SVG = "{http://www.w3.org/2000/svg}"


def _map(html: str) -> ElementTree.Element:
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" id="plan-map"'): html.index("</svg>") + len("</svg>")]
    return ElementTree.fromstring(svg)


def _classes(element: ElementTree.Element) -> set[str]:
    return set(element.get("class", "").split())


def test_plan_page_draws_every_commune_route_and_stop(engine: Engine, small_valley: int) -> None:  # noqa: F811
    outcome = _bus(engine).handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    with Session(engine) as session:
        html = render_plan_html(session, outcome.plan_id, PARIS)
        plan = session.get(t.Plan, outcome.plan_id)
        routes = session.exec(select(t.Route).where(t.Route.plan_id == outcome.plan_id)).all()
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == outcome.plan_id)).all()
        communes = session.exec(select(t.Commune)).all()
        sites = {s.id: s for s in session.exec(select(t.Site))}
    assert plan is not None and visits
    tree = _map(html)
    areas = [p for p in tree.iter(f"{SVG}path") if "area" in _classes(p)]
    assert len(areas) == len(communes)
    assert all(re.fullmatch(r"(M[-\d.,L]+Z)+", a.get("d", "")) for a in areas)
    # each class of commune is told apart by its fill pattern, not by colour alone
    visited = {sites[v.site_id].commune_id for v in visits}
    left_out = {u["commune_id"] for u in plan.unserved if u["expected_demand"] >= 1}
    kinds = [({"visited", "left-out", "other"} & _classes(a)).pop() for a in areas]
    assert kinds.count("visited") == len(visited)
    assert kinds.count("left-out") == len(left_out - visited)
    assert "url(#hatch-left-out)" in html and ".area.visited { fill:" in html
    # every area names its commune in its title
    names = {c.name for c in communes}
    assert {a.find(f"{SVG}title").text.split(" (")[0] for a in areas} == names  # type: ignore[union-attr]
    # routes: one line per route with stops, numbered as in the timeline
    numbers = route_numbers(routes)
    lines = [p for p in tree.iter(f"{SVG}polyline") if "route" in _classes(p)]
    assert sorted(int(p.get("data-route", 0)) for p in lines) == sorted(numbers[r.id] for r in routes if any(v.route_id == r.id for v in visits))
    stop_numbers = {int(g.get("data-route", 0)) for g in tree.iter(f"{SVG}g") if "stop" in _classes(g)}
    assert stop_numbers == {int(p.get("data-route", 0)) for p in lines}
    assert html.count('class="lane"') == len(routes)
    for route in routes:
        lane = html.split(f'<div class="lane" data-route="{numbers[route.id]}">', 1)[1].split('<div class="track">', 1)[0]
        assert f">{numbers[route.id]}</span>" in lane and route.day.strftime("%d/%m") in lane
    # names, scale, legend; a page that works offline
    labels = [e.text for e in tree.iter(f"{SVG}text") if "label" in _classes(e)]
    largest = max(communes, key=lambda c: c.population)
    assert largest.name in labels and set(labels) <= names
    assert tree.find(f".//{SVG}g[@class='scale']") is not None and " km" in html
    assert 'id="legende"' in html and "Légende" in html and "Tournée" in html
    assert '<html lang="fr">' in html and tree.get("role") == "img" and tree.find(f"{SVG}title") is not None
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    if outcome.kpis["communes_visited"] < len(communes):
        assert "Communes sans arrêt cette semaine" in html


@pytest.mark.skipif(not hasattr(t.Commune, "contour"), reason="the commune contour column is not in this schema yet")
def test_imported_contours_are_the_areas_drawn(engine: Engine, small_valley: int) -> None:  # noqa: F811
    with Session(engine) as session:
        communes = session.exec(select(t.Commune)).all()
        for commune in communes:
            lat, lon, h = commune.latitude, commune.longitude, 0.004
            ring = [[lon - h, lat - h], [lon + h, lat - h], [lon + h, lat + h], [lon - h, lat + h], [lon - h, lat - h]]
            commune.contour = {"type": "Polygon", "coordinates": [ring]}  # type: ignore[attr-defined]
            session.add(commune)
        session.commit()
    outcome = _bus(engine).handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=1))
    with Session(engine) as session:
        html = render_plan_html(session, outcome.plan_id, PARIS)
    areas = [p for p in _map(html).iter(f"{SVG}path") if "area" in _classes(p)]
    assert len(areas) == len(communes)
    # small squares: four corners each, not Voronoi cells
    assert all(a.get("d", "").count("L") == 3 for a in areas)
    assert "Contours officiels" in html and "Zones approchées" not in html
