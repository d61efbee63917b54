"""A plan drawn for the coordinator: a map of the week's routes and a timeline per route-day.

Self-contained HTML with inline SVG (no map tiles, no JavaScript, no network), so it
opens on a laptop in a village hall with no connection, prints, and can be attached to
an e-mail. The map shows each commune's area (official contour when imported, else the
area closest to its centre: `plan_map.py`), the names of the bourgs, the routes in the
colour of their vehicle with the route's number on each stop, a legend and a scale bar.
Visited communes, communes left out despite a demand and the others differ by fill
*pattern* (solid, hatched, blank), not by colour alone.

Routes are numbered in the timeline's order (day, then vehicle): `route_numbers` is the
one rule, shared with the command line's table.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, col, select

from mobile_services.domain.calendar import minute_of_day, week_days
from mobile_services.reports.plan_map import (
    Box,
    LabelCandidate,
    Projection,
    commune_areas,
    format_km,
    place_labels,
    scale_bar_km,
    svg_path,
)
from mobile_services.storage import tables as t

#: One colour per vehicle (stable across versions: the territory's vehicles in id order).
#: Dark enough for white route numbers (contrast >= 4.5:1) and apart from the hatching red.
PALETTE = ("#1f4e9c", "#a14a00", "#6a3d9a", "#00695c", "#ad1457", "#37474f", "#5d6d00", "#283593", "#6d4c41", "#00838f")
DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
SHORT_DAY_NAMES = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
MAP_WIDTH = 820
MAP_MAX_HEIGHT = 900
TIMELINE_START = 8 * 60
TIMELINE_END = 18 * 60
#: A commune counts as "left out with demand" from this many expected people (as the plan's KPIs).
DEMAND_THRESHOLD = 1.0
STOP_RADIUS = 7.5
#: room under the territory for the scale bar
SCALE_MARGIN = 26
BOURG_FONT = 12.5
VISITED_FONT = 10.5


def route_numbers(routes: Sequence[t.Route]) -> dict[int, int]:
    """Route id -> its number (1, 2, ...) in the timeline's order: day, then vehicle."""
    ordered = sorted(routes, key=lambda r: (r.day, r.vehicle_id, r.id or 0))
    return {r.id: n for n, r in enumerate(ordered, start=1) if r.id is not None}


def vehicle_colours(vehicles: Sequence[t.Vehicle]) -> dict[int, str]:
    """Vehicle id -> its colour, stable for a territory (vehicles in id order)."""
    return {v.id: PALETTE[i % len(PALETTE)] for i, v in enumerate(sorted(vehicles, key=lambda v: v.id or 0)) if v.id is not None}


def slug(name: str) -> str:
    """'Creuse (23)' -> 'creuse-23': a file-name-safe form of a territory's name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.casefold()).strip("-") or "territoire"


def short_day(day: date) -> str:
    return f"{SHORT_DAY_NAMES[day.weekday()]} {day:%d/%m}"


@dataclass(frozen=True)
class Area:
    d: str
    kind: str  # "visited" | "left-out" | "other"
    title: str


@dataclass(frozen=True)
class RouteLine:
    number: int
    colour: str
    points: str
    dashed: bool
    title: str


@dataclass(frozen=True)
class StopMarker:
    x: float
    y: float
    number: int
    colour: str
    title: str


@dataclass(frozen=True)
class DepotMarker:
    x: float
    y: float
    colour: str
    title: str


@dataclass(frozen=True)
class ScaleBar:
    x: float
    y: float
    length: float
    label: str
    half_label: str


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str
    kind: str  # "stop" | "lunch" | "wait"
    title: str = ""


@dataclass(frozen=True)
class Lane:
    number: int
    colour: str
    day: str
    vehicle: str
    crew: str
    figures: str
    bars: list[Bar]


@dataclass(frozen=True)
class LegendVehicle:
    name: str
    colour: str
    dashed: bool
    kind_fr: str
    cells: list[int | None]  # route number per day of the legend, None when the vehicle does not run


@dataclass
class MapView:
    width: float
    height: float
    areas: list[Area] = field(default_factory=list)
    outline: str = ""
    routes: list[RouteLine] = field(default_factory=list)
    stops: list[StopMarker] = field(default_factory=list)
    depots: list[DepotMarker] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    scale: ScaleBar | None = None
    official_contours: bool = False
    counts: dict[str, int] = field(default_factory=dict)


def _people(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")


def _thousands(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def build_map(
    communes: Sequence[t.Commune],
    routes: Sequence[t.Route],
    visits: Sequence[t.Visit],
    sites: dict[int, t.Site],
    vehicles: dict[int, t.Vehicle],
    unserved: Sequence[dict[str, Any]],
    numbers: dict[int, int],
    colours: dict[int, str],
) -> MapView:
    """Everything the map draws, in SVG pixels."""
    base = Projection.centred(
        [(c.latitude, c.longitude) for c in communes] + [(v.depot_latitude, v.depot_longitude) for v in vehicles.values()]
    )
    geometries, official = commune_areas(
        [(c.latitude, c.longitude) for c in communes], [getattr(c, "contour", None) for c in communes], base
    )
    extent = shapely.unary_union(
        [*geometries, *(shapely.Point(base.km(v.depot_latitude, v.depot_longitude)) for v in vehicles.values())]
    )
    projection = base.fit(extent.bounds if not extent.is_empty else (-1.0, -1.0, 1.0, 1.0), MAP_WIDTH, MAP_MAX_HEIGHT)
    view = MapView(width=projection.width, height=projection.height + SCALE_MARGIN, official_contours=official)
    route_by_id = {r.id: r for r in routes}
    stops_of: dict[int, list[t.Visit]] = {}
    visits_of_commune: dict[int, list[t.Visit]] = {}
    for visit in visits:
        if visit.route_id is not None:
            stops_of.setdefault(visit.route_id, []).append(visit)
        visits_of_commune.setdefault(sites[visit.site_id].commune_id, []).append(visit)
    left_out = {u["commune_id"]: u for u in unserved if float(u.get("expected_demand", 0)) >= DEMAND_THRESHOLD}

    # Commune areas
    counts = {"visited": 0, "left-out": 0, "other": 0}
    for commune, geometry in zip(communes, geometries, strict=True):
        people = f"{_thousands(commune.population)} hab."
        if commune.id in visits_of_commune:
            kind = "visited"
            seen = sorted({(numbers.get(v.route_id or -1, 0), v.route_id) for v in visits_of_commune[commune.id]})
            which = ", ".join(
                f"tournée {n} ({short_day(route_by_id[r].day)}, {vehicles[route_by_id[r].vehicle_id].name})"
                for n, r in seen
                if r in route_by_id
            )
            title = f"{commune.name} ({people}) : visitée, {which}"
        elif commune.id in left_out:
            kind = "left-out"
            item = left_out[commune.id]
            mandatory = " (visite obligatoire)" if item.get("mandatory") else ""
            title = (
                f"{commune.name} ({people}) : sans arrêt malgré {_people(float(item['expected_demand']))} personnes "
                f"attendues{mandatory} : {item.get('reason_fr', '')}"
            )
        else:
            kind = "other"
            title = f"{commune.name} ({people}) : sans arrêt, pas de demande notable cette semaine"
        counts[kind] += 1
        view.areas.append(Area(d=svg_path(geometry, projection), kind=kind, title=title))
    view.counts = counts
    if geometries:
        view.outline = svg_path(shapely.unary_union(geometries).buffer(0), projection, tolerance_px=0.8)

    # Routes, depots and numbered stops
    obstacles: list[Box] = []
    markers_at: dict[tuple[float, float], list[tuple[int, str, str]]] = {}
    for route in sorted(routes, key=lambda r: numbers.get(r.id or -1, 0)):
        vehicle = vehicles[route.vehicle_id]
        number = numbers.get(route.id or -1, 0)
        colour = colours.get(route.vehicle_id, PALETTE[0])
        stops = sorted(stops_of.get(route.id or -1, []), key=lambda v: (v.sequence, v.start_at))
        depot = projection.px(vehicle.depot_latitude, vehicle.depot_longitude)
        path = [depot] + [projection.px(sites[v.site_id].latitude, sites[v.site_id].longitude) for v in stops] + [depot]
        label = f"Tournée {number} : {DAY_NAMES[route.day.weekday()]} {route.day:%d/%m}, {vehicle.name}"
        if stops:
            view.routes.append(RouteLine(number, colour, " ".join(f"{x:g},{y:g}" for x, y in path), vehicle.kind != "bus", label))
        seen_sites: set[int] = set()
        for stop in stops:
            if stop.site_id in seen_sites:  # morning and afternoon at the same site: one marker
                continue
            seen_sites.add(stop.site_id)
            site = sites[stop.site_id]
            commune_name = next((c.name for c in communes if c.id == site.commune_id), "")
            key = projection.px(site.latitude, site.longitude)
            markers_at.setdefault(key, []).append((number, colour, f"{label} : {commune_name} - {site.name}"))
    depots_seen: set[int] = set()
    for route in routes:
        vehicle = vehicles[route.vehicle_id]
        if vehicle.id in depots_seen:
            continue
        depots_seen.add(vehicle.id)  # type: ignore[arg-type]
        x, y = projection.px(vehicle.depot_latitude, vehicle.depot_longitude)
        where = f" ({vehicle.depot_name})" if vehicle.depot_name else ""
        view.depots.append(DepotMarker(x, y, colours.get(route.vehicle_id, PALETTE[0]), f"Dépôt de {vehicle.name}{where}"))
        obstacles.append(Box(x - 6, y - 6, x + 6, y + 6))
    for (x, y), markers in markers_at.items():
        step = 2 * STOP_RADIUS + 1
        first = x - step * (len(markers) - 1) / 2
        if any(abs(d.x - x) < STOP_RADIUS + 6 and abs(d.y - y) < STOP_RADIUS + 6 for d in view.depots):
            first = x + STOP_RADIUS + 7  # a stop at the depot: beside the depot's square, not over it
        for i, (number, colour, title) in enumerate(markers):
            mx = round(first + i * step, 1)
            view.stops.append(StopMarker(mx, y, number, colour, title))
            obstacles.append(Box(mx - STOP_RADIUS, y - STOP_RADIUS, mx + STOP_RADIUS, y + STOP_RADIUS))

    # Scale bar (bottom left)
    width_km = (view.width - 2 * projection.pad) / projection.px_per_km
    km = scale_bar_km(width_km)
    length = km * projection.px_per_km
    view.scale = ScaleBar(x=projection.pad, y=view.height - 8, length=round(length, 1), label=format_km(km), half_label=format_km(km / 2))
    obstacles.append(Box(projection.pad - 4, view.height - 34, projection.pad + length + 30, view.height))
    obstacles.append(Box(view.width - 40, 0, view.width, 48))  # north arrow

    # Names: the bourgs first (largest communes), then the visited communes where room is left
    by_population = sorted(communes, key=lambda c: -c.population)
    n_bourgs = max(3, min(24, round(len(communes) / 10)))
    bourgs = by_population[:n_bourgs]
    candidates = [
        LabelCandidate(*projection.px(c.latitude, c.longitude), text=c.name, size=BOURG_FONT, tier="bourg") for c in bourgs
    ]
    bourg_ids = {c.id for c in bourgs}
    candidates += [
        LabelCandidate(*projection.px(c.latitude, c.longitude), text=c.name, size=VISITED_FONT, tier="visited")
        for c in by_population
        if c.id in visits_of_commune and c.id not in bourg_ids
    ]
    view.labels = place_labels(candidates, obstacles, view.width, view.height, limit=n_bourgs + 40)
    return view


def plan_page_path(data_dir: Path, territory: str, week: str, version: int) -> Path:
    """Where a plan's page is written: data folder, plans/, named after territory, week, version."""
    return data_dir / "plans" / f"plan-{slug(territory)}-{week}-v{version}.html"


def write_plan_page(session: Session, plan_id: int, data_dir: Path, tz: ZoneInfo, path: Path | None = None) -> Path:
    """The map and timeline of a plan as a self-contained HTML file (default: :func:`plan_page_path`)."""
    if path is None:
        plan = session.get(t.Plan, plan_id)
        territory = session.get(t.Territory, plan.territory_id) if plan else None
        if plan is None or territory is None:
            raise LookupError(plan_id)
        path = plan_page_path(data_dir, territory.name, plan.week, plan.version)
    page = render_plan_html(session, plan_id, tz)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def render_plan_html(session: Session, plan_id: int, tz: ZoneInfo) -> str:
    plan = session.get(t.Plan, plan_id)
    if plan is None:
        raise LookupError(plan_id)
    territory = session.get(t.Territory, plan.territory_id)
    communes = session.exec(
        select(t.Commune).where(t.Commune.territory_id == plan.territory_id).order_by(col(t.Commune.id))
    ).all()
    routes = session.exec(select(t.Route).where(t.Route.plan_id == plan_id).order_by(col(t.Route.day), col(t.Route.vehicle_id))).all()
    visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan_id).order_by(col(t.Visit.sequence))).all()
    site_ids = {v.site_id for v in visits}
    sites = {s.id: s for s in session.exec(select(t.Site).where(col(t.Site.id).in_(site_ids)))} if site_ids else {}
    all_vehicles = session.exec(select(t.Vehicle).where(t.Vehicle.territory_id == plan.territory_id)).all()
    vehicles = {v.id: v for v in all_vehicles}
    people = {c.id: c.name for c in session.exec(select(t.Counsellor).where(t.Counsellor.territory_id == plan.territory_id))}
    by_commune = {c.id: c for c in communes}

    numbers = route_numbers(routes)
    colours = vehicle_colours(all_vehicles)
    view = build_map(communes, routes, visits, sites, vehicles, plan.unserved, numbers, colours)  # type: ignore[arg-type]

    lanes: list[Lane] = []
    width = TIMELINE_END - TIMELINE_START
    for route in sorted(routes, key=lambda r: numbers.get(r.id or -1, 0)):
        vehicle = vehicles[route.vehicle_id]
        stops = [v for v in visits if v.route_id == route.id]
        bars: list[Bar] = []
        for stop in stops:
            start, end = minute_of_day(stop.start_at, tz), minute_of_day(stop.end_at, tz)
            arrival = minute_of_day(stop.arrival_at, tz) if stop.arrival_at else start
            site = sites[stop.site_id]
            commune = by_commune[site.commune_id]
            if start > arrival:
                bars.append(Bar(x=100 * (arrival - TIMELINE_START) / width, width=100 * (start - arrival) / width, label="", kind="wait",
                                title=f"attente avant l'ouverture ({start - arrival} min)"))
            bars.append(Bar(x=100 * (start - TIMELINE_START) / width, width=100 * (end - start) / width, label=commune.name, kind="stop",
                            title=f"#{stop.id} {stop.start_at.astimezone(tz):%H:%M}-{stop.end_at.astimezone(tz):%H:%M} {commune.name} - {site.name}"))
        if route.break_start_at and route.break_end_at:
            b0, b1 = minute_of_day(route.break_start_at, tz), minute_of_day(route.break_end_at, tz)
            bars.append(Bar(x=100 * (b0 - TIMELINE_START) / width, width=100 * (b1 - b0) / width, label="pause", kind="lunch",
                            title=f"pause déjeuner {route.break_start_at.astimezone(tz):%H:%M}-{route.break_end_at.astimezone(tz):%H:%M}"))
        figures = f"{route.distance_km:.0f} km · {route.driving_minutes // 60} h {route.driving_minutes % 60:02d} de conduite"
        lanes.append(
            Lane(
                number=numbers.get(route.id or -1, 0),
                colour=colours.get(route.vehicle_id, PALETTE[0]),
                day=f"{DAY_NAMES[route.day.weekday()]} {route.day:%d/%m}",
                vehicle=vehicle.name,
                crew=", ".join(people[c] for c in route.crew if c in people),
                figures=figures,
                bars=bars,
            )
        )

    # Legend: one row per vehicle that runs this week, one column per day that has a route
    days = sorted({r.day for r in routes})
    legend_vehicles = []
    for vehicle in sorted((vehicles[v] for v in {r.vehicle_id for r in routes}), key=lambda v: v.id or 0):
        cells = [
            next((numbers.get(r.id or -1) for r in routes if r.vehicle_id == vehicle.id and r.day == day), None) for day in days
        ]
        legend_vehicles.append(
            LegendVehicle(
                name=vehicle.name,
                colour=colours.get(vehicle.id or -1, PALETTE[0]),
                dashed=vehicle.kind != "bus",
                kind_fr="bus" if vehicle.kind == "bus" else "voiture",
                cells=cells,
            )
        )
    monday = week_days(plan.week)[0]
    period = (
        f"du {format_date(monday, 'EEEE d MMMM', locale='fr_FR')} au "
        f"{format_date(monday + timedelta(days=6), 'EEEE d MMMM y', locale='fr_FR')}"
        if monday
        else ""
    )
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape(["html"])
    )
    hours = [(100 * (h * 60 - TIMELINE_START) / width, f"{h} h") for h in range(TIMELINE_START // 60, TIMELINE_END // 60 + 1)]
    return environment.get_template("plan.html").render(
        plan=plan,
        territory=territory.name if territory else "",
        period=period,
        map=view,
        lanes=lanes,
        hours=hours,
        legend_days=[short_day(d) for d in days],
        legend_vehicles=legend_vehicles,
        unserved=[u for u in plan.unserved if float(u.get("expected_demand", 0)) >= DEMAND_THRESHOLD][:30],
        unserved_total=sum(1 for u in plan.unserved if float(u.get("expected_demand", 0)) >= DEMAND_THRESHOLD),
        kpis=plan.kpis,
        percent=lambda share: f"{100 * float(share or 0):.0f}",
        number=lambda value: format_decimal(value or 0, locale="fr_FR"),
        people=lambda value: _people(float(value or 0)),
        stop_radius=STOP_RADIUS,
        math=math,
    )

