"""Geometry of the plan map: projection, commune areas, label placement, scale bar.

Pure functions (no database, no templates), so the drawing rules are tested on their own.

Commune areas are the official contours when the database carries them (a GeoJSON
Polygon or MultiPolygon in longitude/latitude, as geo.api.gouv.fr's ``contour`` field);
otherwise each commune gets the area closer to its centre than to any other centre (a
Voronoi cell), clipped to the territory's approximate outline: the union of discs
around the centres, smoothed. Contours and cells can be mixed: a cell never covers a
contour.

Everything is computed in kilometres on a local equirectangular projection around the
territory's centre (accurate to well under a percent at the scale of a département),
then scaled to SVG pixels with the north up.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPoint, Point, shape
from shapely.geometry.base import BaseGeometry

KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_EQUATOR = 111.320
#: a font's average glyph width as a share of its size (sans-serif, accented French names)
GLYPH_WIDTH = 0.58


@dataclass(frozen=True)
class Projection:
    """Longitude/latitude -> local kilometres -> SVG pixels (y down, north up)."""

    lat0: float
    lon0: float
    min_x: float
    max_y: float
    px_per_km: float
    pad: float
    width: float
    height: float

    @classmethod
    def centred(cls, points: Sequence[tuple[float, float]]) -> Projection:
        """A projection around the middle of (lat, lon) points; kilometres only until `fit`."""
        if not points:
            points = [(46.0, 2.0)]
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        return cls((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)

    def fit(self, bounds: tuple[float, float, float, float], width: float, max_height: float, pad: float = 16) -> Projection:
        """The same projection scaled so that `bounds` (km: min x, min y, max x, max y) fill `width` pixels.

        The height follows the territory's shape, up to `max_height` (then the map is
        narrower and centred).
        """
        min_x, min_y, max_x, max_y = bounds
        span_x, span_y = max(max_x - min_x, 1.0), max(max_y - min_y, 1.0)
        scale = min((width - 2 * pad) / span_x, (max_height - 2 * pad) / span_y)
        height = span_y * scale + 2 * pad
        offset = (width - 2 * pad - span_x * scale) / 2  # centred when the height binds
        return Projection(self.lat0, self.lon0, min_x - offset / scale, max_y, scale, pad, width, round(height, 1))

    def km(self, lat: float, lon: float) -> tuple[float, float]:
        x = (lon - self.lon0) * KM_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(self.lat0))
        y = (lat - self.lat0) * KM_PER_DEGREE_LAT
        return x, y

    def px_of_km(self, x: float, y: float) -> tuple[float, float]:
        return round(self.pad + (x - self.min_x) * self.px_per_km, 1), round(self.pad + (self.max_y - y) * self.px_per_km, 1)

    def px(self, lat: float, lon: float) -> tuple[float, float]:
        return self.px_of_km(*self.km(lat, lon))

    def geometry_km(self, geojson: dict[str, Any]) -> BaseGeometry | None:
        """A GeoJSON Polygon/MultiPolygon (lon, lat) in local kilometres; None when unusable."""
        try:
            geometry = shape(geojson)
        except Exception:  # noqa: BLE001 - a malformed contour falls back to a cell
            return None
        if geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
            return None
        cos = math.cos(math.radians(self.lat0))

        def to_km(coords: Any) -> Any:
            out = coords.copy()
            out[:, 0] = (coords[:, 0] - self.lon0) * KM_PER_DEGREE_LON_EQUATOR * cos
            out[:, 1] = (coords[:, 1] - self.lat0) * KM_PER_DEGREE_LAT
            return out

        projected = shapely.transform(geometry, to_km)
        projected = projected if projected.is_valid else polygonal(projected.buffer(0))
        return None if projected.is_empty else projected


def _contour(value: Any) -> dict[str, Any] | None:
    """A GeoJSON geometry from a stored contour (a dict, or a Feature wrapping one)."""
    if not isinstance(value, dict):
        return None
    if value.get("type") == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            return None
    return value if value.get("type") in ("Polygon", "MultiPolygon") else None


def commune_areas(
    centres: Sequence[tuple[float, float]], contours: Sequence[Any], projection: Projection
) -> tuple[list[BaseGeometry], bool]:
    """One area per commune, in kilometres, and whether any official contour was used.

    `centres` are (lat, lon); `contours` holds, per commune, a GeoJSON geometry or None.
    """
    points = [projection.km(lat, lon) for lat, lon in centres]
    areas: list[BaseGeometry | None] = [None] * len(points)
    for i, raw in enumerate(contours):
        geojson = _contour(raw)
        if geojson is not None:
            areas[i] = projection.geometry_km(geojson)
    official = [a for a in areas if a is not None]
    missing = [i for i, a in enumerate(areas) if a is None]
    if missing:
        cells = voronoi_cells([points[i] for i in missing], [points[i] for i in range(len(points))])
        covered = shapely.unary_union(official) if official else None
        for i, cell in zip(missing, cells, strict=True):
            if covered is not None:
                cell = polygonal(cell.difference(covered))
            areas[i] = cell if not cell.is_empty else Point(points[i]).buffer(0.5)
    return [a for a in areas if a is not None], bool(official)


def polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Only the surface of a geometry: clipping can leave stray lines or points in a collection."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty]
    return shapely.unary_union(parts) if parts else shapely.Polygon()


def voronoi_cells(points: Sequence[tuple[float, float]], all_points: Sequence[tuple[float, float]] | None = None) -> list[BaseGeometry]:
    """The Voronoi cell of each point, clipped to the smoothed union of discs around every centre.

    The disc radius follows the spacing of the centres (1.3 times the median distance to
    the nearest neighbour), so border communes get about the size of inner ones rather
    than a wedge to infinity. `all_points` (defaults to `points`) shape the outline.
    """
    if not points:
        return []
    outline_points = list(all_points or points)
    radius = 1.3 * _median_spacing(outline_points)
    outline = shapely.unary_union([Point(p).buffer(radius, quad_segs=8) for p in outline_points])
    outline = outline.buffer(radius * 0.6, quad_segs=8).buffer(-radius * 0.6, quad_segs=8)
    if len(points) == 1:
        return [polygonal(Point(points[0]).buffer(radius, quad_segs=8).intersection(outline))]
    # Identical centres (two communes sharing coordinates) would share one cell: nudge them.
    seen: dict[tuple[float, float], int] = {}
    nudged = []
    for x, y in points:
        key = (round(x, 4), round(y, 4))
        n = seen.get(key, 0)
        seen[key] = n + 1
        nudged.append((x + 0.01 * n, y))
    diagram = shapely.voronoi_polygons(MultiPoint(nudged), extend_to=outline.envelope.buffer(radius), ordered=True)
    cells = list(diagram.geoms)
    if len(cells) != len(nudged):  # degenerate input (collinear points): match cells by containment
        cells = [next((c for c in diagram.geoms if c.covers(Point(p))), Point(p).buffer(radius)) for p in nudged]
    return [polygonal(cell.intersection(outline)) for cell in cells]


def _median_spacing(points: Sequence[tuple[float, float]]) -> float:
    """Median distance from a centre to its nearest neighbour, in km (2 km when undefined)."""
    if len(points) < 2:
        return 2.0
    geoms = shapely.points(list(points))
    _, distances = shapely.STRtree(geoms).query_nearest(geoms, exclusive=True, return_distance=True, all_matches=False)
    if not len(distances):
        return 2.0
    spacing = statistics.median(distances)
    return spacing if spacing > 0 else 2.0


def svg_path(geometry: BaseGeometry, projection: Projection, tolerance_px: float = 0.4) -> str:
    """The SVG path data of a (multi)polygon in km, simplified to what a pixel can show."""
    if geometry.is_empty:
        return ""
    simplified = geometry.simplify(tolerance_px / projection.px_per_km, preserve_topology=True)
    parts: list[str] = []
    polygons = getattr(simplified, "geoms", [simplified])
    for polygon in polygons:
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            coords = [projection.px_of_km(x, y) for x, y in ring.coords[:-1]]
            if len(coords) < 3:
                continue
            parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in coords) + "Z")
    return "".join(parts)


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, margin: float = 1.5) -> bool:
        return not (
            self.x1 + margin <= other.x0 or other.x1 + margin <= self.x0
            or self.y1 + margin <= other.y0 or other.y1 + margin <= self.y0
        )

    def inside(self, width: float, height: float) -> bool:
        return self.x0 >= 1 and self.y0 >= 1 and self.x1 <= width - 1 and self.y1 <= height - 1


@dataclass(frozen=True)
class LabelCandidate:
    """A name to place near (x, y), most important first."""

    x: float
    y: float
    text: str
    size: float
    tier: str  # "bourg" | "visited"


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    size: float
    anchor: str  # SVG text-anchor
    tier: str
    box: Box


def text_box(x: float, y: float, text: str, size: float, anchor: str) -> Box:
    """The box a one-line label takes, `y` being its baseline."""
    width = GLYPH_WIDTH * size * len(text)
    x0 = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return Box(x0, y - 0.8 * size, x0 + width, y + 0.25 * size)


def place_labels(
    candidates: Iterable[LabelCandidate], obstacles: Iterable[Box], width: float, height: float, limit: int
) -> list[Label]:
    """Greedy placement: each name in the first free spot around its point, or not at all.

    No two labels overlap and none covers an obstacle (a stop marker, a depot, the scale
    bar), so names never turn into clutter; the most important candidates come first.
    """
    taken: list[Box] = list(obstacles)
    placed: list[Label] = []
    for c in candidates:
        if len(placed) >= limit:
            break
        below, above, side = c.size + 3, -5.0, c.size * 0.35
        offsets = (
            (0.0, below, "middle"), (0.0, above, "middle"), (8.0, side, "start"), (-8.0, side, "end"),
            (0.0, below + 9, "middle"), (0.0, above - 9, "middle"),
            (8.0, side - 10, "start"), (-8.0, side - 10, "end"), (8.0, side + 10, "start"), (-8.0, side + 10, "end"),
            (0.0, below + 18, "middle"), (0.0, above - 18, "middle"), (16.0, side, "start"), (-16.0, side, "end"),
        )
        for dx, dy, anchor in offsets:
            box = text_box(c.x + dx, c.y + dy, c.text, c.size, anchor)
            if box.inside(width, height) and not any(box.overlaps(other) for other in taken):
                taken.append(box)
                placed.append(Label(round(c.x + dx, 1), round(c.y + dy, 1), c.text, c.size, anchor, c.tier, box))
                break
    return placed


NICE_STEPS = (1, 2, 5)


def scale_bar_km(map_width_km: float, share: float = 0.22) -> float:
    """The longest round length (1, 2, 5 x 10^n km) not above `share` of the map's width."""
    target = max(map_width_km * share, 0.1)
    exponent = math.floor(math.log10(target))
    best = 10.0**exponent
    for step in NICE_STEPS:
        value = step * 10.0**exponent
        if value <= target:
            best = value
    return best


def format_km(value: float) -> str:
    return f"{value:g} km".replace(".", ",")
