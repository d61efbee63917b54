"""The plan as a terminal reads it: one line per route, one line per stop, at any width.

A route line carries the route's number (the same as on the plan page's map and
timeline), day, vehicle and figures (km, driving, lunch break), then the crew; it wraps
at its separators when the terminal is narrow. A stop line never wraps: day, vehicle,
stop number (what `pin` takes), times, commune - site; the place is shortened with an
ellipsis rather than pushed onto a second line. Pure formatting: the data comes in as
plain values, the lines go out as text, so widths are tested without a database.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from rich.cells import cell_len
from rich.console import Console

SHORT_DAY_NAMES = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
SEPARATOR = " · "
GAP = "  "
#: narrowest place column before the vehicle column gives way
MIN_PLACE = 24
#: from this width on, the stop lines also show the people expected
WIDE = 100
ELLIPSIS = "…"


@dataclass(frozen=True)
class StopRow:
    visit_id: int
    start: str  # "09:00", local time
    end: str
    commune: str
    site: str
    pinned: bool = False
    expected: float | None = None


@dataclass(frozen=True)
class RouteRow:
    number: int
    day: date
    vehicle: str
    crew: tuple[str, ...]
    km: float
    driving_minutes: int
    pause: str | None  # "12:15-13:00", local time
    stops: tuple[StopRow, ...]


def terminal_width(console: Console) -> int:
    """The width to lay out for: ``COLUMNS`` when set (even after the console was made), else the console's."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), 40)
    return max(console.width, 40)


def short_day(day: date) -> str:
    return f"{SHORT_DAY_NAMES[day.weekday()]} {day:%d/%m}"


def clip(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells, with an ellipsis when cut."""
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    out = ""
    for char in text:
        if cell_len(out + char) > width - 1:
            break
        out += char
    return out.rstrip() + ELLIPSIS


def pad(text: str, width: int, right: bool = False) -> str:
    text = clip(text, width)
    space = " " * (width - cell_len(text))
    return space + text if right else text + space


def join_wrapped(items: Sequence[str], width: int, indent: str = "    ") -> list[str]:
    """Items joined by " · ", a new (indented) line when the next would pass `width`."""
    lines: list[str] = []
    current = ""
    for item in items:
        candidate = f"{current}{SEPARATOR}{item}" if current else item
        if current and cell_len(candidate) > width:
            lines.append(current)
            current = clip(indent + item, width)
        else:
            current = clip(candidate, width) if not current else candidate
    if current:
        lines.append(current)
    return lines


def driving(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60:02d}"


@dataclass(frozen=True)
class Columns:
    vehicle: int
    stop: int
    expected: bool
    gap: str = GAP

    @property
    def fixed(self) -> int:
        """Cells before the place column."""
        cells = 10 + self.vehicle + self.stop + 11 + (9 if self.expected else 0)
        return cells + len(self.gap) * (5 if self.expected else 4)


def layout(routes: Sequence[RouteRow], width: int) -> Columns:
    """Column widths: the vehicle column shrinks (to 8) before the place column goes under MIN_PLACE."""
    ids = [s.visit_id for r in routes for s in r.stops]
    stop = max([len("Arrêt") - 1, *(len(str(i)) for i in ids)]) + 1
    vehicle = max([len("Véhicule"), *(cell_len(r.vehicle) for r in routes)])
    expected = width >= WIDE
    columns = Columns(vehicle, stop, expected, GAP if width >= WIDE else " ")
    while columns.vehicle > 8 and width - columns.fixed < MIN_PLACE:
        columns = Columns(columns.vehicle - 1, stop, expected, columns.gap)
    return columns


def header(columns: Columns, width: int) -> str:
    cells = [pad("Jour", 10), pad("Véhicule", columns.vehicle), pad("Arrêt", columns.stop), pad("Horaires", 11)]
    if columns.expected:
        cells.append(pad("attendus", 9, right=True))
    line = columns.gap.join(cells) + columns.gap
    return line + clip("Commune - lieu", max(width - cell_len(line), 0))


def stop_line(route: RouteRow, stop: StopRow, columns: Columns, width: int) -> str:
    cells = [
        pad(short_day(route.day), 10),
        pad(route.vehicle, columns.vehicle),
        pad(f"#{stop.visit_id}", columns.stop),
        f"{stop.start}-{stop.end}",
    ]
    if columns.expected:
        cells.append(pad("" if stop.expected is None else f"{stop.expected:.0f} pers.", 9, right=True))
    line = columns.gap.join(cells) + columns.gap
    suffix = " (épinglé)" if stop.pinned else ""
    room = max(width - cell_len(line) - cell_len(suffix), 0)
    return clip(line + clip(f"{stop.commune} - {stop.site}", room) + suffix, width)


def route_header(route: RouteRow, width: int) -> list[str]:
    """'Tournée 1 · lun. 07/12 · Bus Nord · 81 km, 1h40 de conduite, pause 12:37-13:22 · crew', wrapped
    at its separators; the figures stay together on one line."""
    figures = f"{route.km:.0f} km, {driving(route.driving_minutes)} de conduite, " + (
        f"pause {route.pause}" if route.pause else "sans pause"
    )
    items = [f"Tournée {route.number}", short_day(route.day), route.vehicle, figures]
    if route.crew:
        items.append(", ".join(route.crew))
    return join_wrapped(items, width)


def plan_lines(routes: Sequence[RouteRow], width: int) -> list[tuple[str, str]]:
    """(text, style) lines of the routes and their stops, none wider than `width`."""
    columns = layout(routes, width)
    out: list[tuple[str, str]] = [(header(columns, width), "bold")]
    for route in routes:
        out += [(line, "bold") for line in route_header(route, width)]
        if not route.stops:
            out.append(("  aucun arrêt", "dim"))
        out += [(stop_line(route, stop, columns, width), "") for stop in route.stops]
    return out


def wrapped(text: str, width: int, indent: str = "    ") -> list[str]:
    """A paragraph wrapped at `width`, continuation lines indented."""
    return textwrap.wrap(text, width=width, subsequent_indent=indent, break_long_words=True, break_on_hyphens=False) or [""]


def unserved_lines(items: Iterable[dict[str, object]], width: int, limit: int = 15) -> list[str]:
    """'Commune (demande) : raison' per left-out commune, most demand first, wrapped."""
    items = list(items)
    lines: list[str] = []
    for item in items[:limit]:
        mandatory = " [obligatoire]" if item.get("mandatory") else ""
        demand = f"{float(item.get('expected_demand', 0) or 0):.1f}".replace(".", ",")  # type: ignore[arg-type]
        lines += wrapped(f"  {item['commune']} ({demand} pers.) : {item['reason_fr']}{mandatory}", width)
    if len(items) > limit:
        lines.append(f"  ... et {len(items) - limit} autres communes.")
    return lines
