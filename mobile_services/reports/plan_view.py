"""A plan drawn for the coordinator: a map of the week's routes and a timeline per route-day.

Self-contained HTML with inline SVG (no map tiles, no JavaScript, no network), so it
opens on a laptop in a village hall with no connection, prints, and can be attached to
an e-mail. Coordinates are projected equirectangularly around the territory's centre,
which is accurate to well under a percent at the scale of a département.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, col, select

from mobile_services.domain.calendar import minute_of_day
from mobile_services.storage import tables as t

PALETTE = ("#1b6ca8", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93", "#3d5a80", "#8a5a44", "#577590", "#c06c84", "#43aa8b")
DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MAP_SIZE = 640
TIMELINE_START = 8 * 60
TIMELINE_END = 18 * 60


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    r: float
    name: str
    visited: bool
    demand: float


@dataclass(frozen=True)
class RouteLine:
    colour: str
    points: str
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str
    kind: str  # "stop" | "lunch" | "drive"


@dataclass(frozen=True)
class Lane:
    label: str
    colour: str
    bars: list[Bar]


def _project(lat: float, lon: float, centre: tuple[float, float], scale: float) -> tuple[float, float]:
    x = (lon - centre[1]) * math.cos(math.radians(centre[0])) * scale + MAP_SIZE / 2
    y = -(lat - centre[0]) * scale + MAP_SIZE / 2
    return round(x, 1), round(y, 1)


def render_plan_html(session: Session, plan_id: int, tz: ZoneInfo) -> str:
    plan = session.get(t.Plan, plan_id)
    if plan is None:
        raise LookupError(plan_id)
    communes = session.exec(select(t.Commune).where(t.Commune.territory_id == plan.territory_id)).all()
    routes = session.exec(select(t.Route).where(t.Route.plan_id == plan_id).order_by(col(t.Route.day), col(t.Route.vehicle_id))).all()
    visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan_id).order_by(col(t.Visit.sequence))).all()
    sites = {s.id: s for s in session.exec(select(t.Site).where(col(t.Site.commune_id).in_([c.id for c in communes])))}
    vehicles = {v.id: v for v in session.exec(select(t.Vehicle).where(t.Vehicle.territory_id == plan.territory_id))}
    by_commune = {c.id: c for c in communes}

    lats = [c.latitude for c in communes] or [46.0]
    lons = [c.longitude for c in communes] or [2.0]
    centre = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
    span = max(max(lats) - min(lats), (max(lons) - min(lons)) * math.cos(math.radians(centre[0])), 0.01)
    scale = (MAP_SIZE - 60) / span

    visited = {sites[v.site_id].commune_id for v in visits}
    demand = {u["commune_id"]: float(u["expected_demand"]) for u in plan.unserved}
    dots = [
        Dot(*_project(c.latitude, c.longitude, centre, scale), r=2.5 + math.sqrt(c.population) / 12,
            name=c.name, visited=c.id in visited, demand=demand.get(c.id, 0.0))
        for c in communes
    ]
    lines: list[RouteLine] = []
    lanes: list[Lane] = []
    width = TIMELINE_END - TIMELINE_START
    for index, route in enumerate(routes):
        colour = PALETTE[index % len(PALETTE)]
        vehicle = vehicles[route.vehicle_id]
        stops = [v for v in visits if v.route_id == route.id]
        path = [_project(vehicle.depot_latitude, vehicle.depot_longitude, centre, scale)]
        path += [_project(sites[v.site_id].latitude, sites[v.site_id].longitude, centre, scale) for v in stops]
        path.append(path[0])
        label = f"{DAY_NAMES[route.day.weekday()]} {route.day:%d/%m} · {vehicle.name}"
        lines.append(RouteLine(colour=colour, points=" ".join(f"{x},{y}" for x, y in path), label=label))
        bars: list[Bar] = []
        for stop in stops:
            start, end = minute_of_day(stop.start_at, tz), minute_of_day(stop.end_at, tz)
            arrival = minute_of_day(stop.arrival_at, tz) if stop.arrival_at else start
            commune = by_commune[sites[stop.site_id].commune_id]
            bars.append(Bar(x=100 * (arrival - TIMELINE_START) / width, width=100 * max(0, start - arrival) / width, label="", kind="wait"))
            bars.append(Bar(x=100 * (start - TIMELINE_START) / width, width=100 * (end - start) / width, label=commune.name, kind="stop"))
        if route.break_start_at and route.break_end_at:
            b0, b1 = minute_of_day(route.break_start_at, tz), minute_of_day(route.break_end_at, tz)
            bars.append(Bar(x=100 * (b0 - TIMELINE_START) / width, width=100 * (b1 - b0) / width, label="pause", kind="lunch"))
        lanes.append(Lane(label=f"{label} ({route.distance_km:.0f} km)", colour=colour, bars=bars))

    environment = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape(["html"])
    )
    hours = [(100 * (h * 60 - TIMELINE_START) / width, f"{h}h") for h in range(TIMELINE_START // 60, TIMELINE_END // 60 + 1)]
    return environment.get_template("plan.html").render(
        plan=plan, dots=dots, lines=lines, lanes=lanes, hours=hours, size=MAP_SIZE,
        unserved=plan.unserved[:20], kpis=plan.kpis,
    )
