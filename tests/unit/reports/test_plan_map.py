"""Geometry of the plan map: commune areas, label placement, scale bar."""

from __future__ import annotations

import itertools
import math

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_services.reports.plan_map import (
    Box,
    LabelCandidate,
    Projection,
    commune_areas,
    format_km,
    place_labels,
    scale_bar_km,
    svg_path,
    voronoi_cells,
)

# A 4 x 3 grid of commune centres, about 4 km apart, in the Creuse.
GRID = [(46.0 + 0.036 * i, 1.9 + 0.052 * j) for i in range(3) for j in range(4)]


def _square(lat: float, lon: float, half: float) -> dict[str, object]:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half], [lon - half, lat - half]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_cells_tile_the_territory_one_per_commune_around_its_centre() -> None:
    base = Projection.centred(GRID)
    areas, official = commune_areas(GRID, [None] * len(GRID), base)
    assert not official and len(areas) == len(GRID)
    for (lat, lon), area in zip(GRID, areas, strict=True):
        assert area.geom_type in ("Polygon", "MultiPolygon") and area.area > 1.0  # km²
        assert area.contains(shapely.Point(base.km(lat, lon)))
    for a, b in itertools.combinations(areas, 2):
        assert a.intersection(b).area < 1e-6  # no overlap
    # an inner commune gets its whole cell: the grid step (4 km) squared
    assert areas[5].area == pytest.approx(16.0, rel=0.05)


def test_an_imported_contour_is_drawn_as_is_and_cells_keep_out_of_it() -> None:
    contour = _square(*GRID[5], half=0.012)
    contours: list[object] = [None] * len(GRID)
    contours[5] = {"type": "Feature", "geometry": contour}  # a Feature is accepted too
    base = Projection.centred(GRID)
    areas, official = commune_areas(GRID, contours, base)
    assert official
    expected = base.geometry_km(contour)
    assert expected is not None and areas[5].symmetric_difference(expected).area < 1e-6
    for i, area in enumerate(areas):
        if i != 5:
            assert area.intersection(areas[5]).area < 1e-6


def test_a_broken_contour_falls_back_to_a_cell() -> None:
    contours: list[object] = [None] * len(GRID)
    contours[0] = {"type": "Polygon", "coordinates": [[[1, 2]]]}
    contours[1] = {"type": "Point", "coordinates": [1.9, 46.0]}
    areas, official = commune_areas(GRID, contours, Projection.centred(GRID))
    assert not official and all(a.area > 1.0 for a in areas)


def test_one_commune_and_shared_centres_still_get_areas() -> None:
    assert len(voronoi_cells([(0.0, 0.0)])) == 1
    cells = voronoi_cells([(0.0, 0.0), (0.0, 0.0), (5.0, 0.0)])
    assert len(cells) == 3 and all(c.area > 0 for c in cells)
    collinear = voronoi_cells([(0.0, 0.0), (3.0, 0.0), (6.0, 0.0)])
    assert len(collinear) == 3 and all(c.area > 0 for c in collinear)


def test_projection_fits_the_width_keeps_the_north_up_and_the_shape() -> None:
    base = Projection.centred(GRID)
    areas, _ = commune_areas(GRID, [None] * len(GRID), base)
    bounds = shapely.unary_union(areas).bounds
    fitted = base.fit(bounds, 800, 900)
    assert fitted.width == 800
    xs = [fitted.px(lat, lon) for lat, lon in GRID]
    assert all(0 <= x <= 800 and 0 <= y <= fitted.height for x, y in xs)
    north, south = fitted.px(46.07, 1.95), fitted.px(46.0, 1.95)
    assert north[1] < south[1]
    # 1 km east is as long on screen as 1 km north
    east = fitted.px_of_km(1, 0)[0] - fitted.px_of_km(0, 0)[0]
    up = fitted.px_of_km(0, 0)[1] - fitted.px_of_km(0, 1)[1]
    assert east == pytest.approx(up, abs=0.11)
    assert svg_path(areas[0], fitted).startswith("M") and svg_path(areas[0], fitted).endswith("Z")


def test_labels_never_overlap_each_other_nor_the_markers() -> None:
    marker = Box(95, 95, 105, 105)
    names = [LabelCandidate(100 + dx, 100 + dy, f"Commune {i}", 12, "bourg") for i, (dx, dy) in enumerate([(0, 0), (3, 2), (-4, 1), (1, -3), (200, 200)])]
    placed = place_labels(names, [marker], 500, 500, limit=10)
    assert placed and placed[0].text == "Commune 0"  # the most important first
    assert "Commune 4" in [p.text for p in placed]  # a name far away always fits
    for a, b in itertools.combinations(placed, 2):
        assert not a.box.overlaps(b.box, margin=0)
    assert all(not p.box.overlaps(marker, margin=0) and p.box.inside(500, 500) for p in placed)
    assert len(place_labels(names, [], 500, 500, limit=2)) == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 300), st.floats(0, 300), st.text("abcdéè -", min_size=1, max_size=20)), max_size=30))
def test_placed_labels_are_disjoint_for_any_input(points: list[tuple[float, float, str]]) -> None:
    placed = place_labels([LabelCandidate(x, y, text, 11, "bourg") for x, y, text in points], [], 300, 300, limit=50)
    for a, b in itertools.combinations(placed, 2):
        assert not a.box.overlaps(b.box, margin=0)


@pytest.mark.parametrize(("width_km", "bar"), [(90, 10), (40, 5), (12, 2), (3, 0.5), (450, 50)])
def test_scale_bar_is_a_round_length_about_a_fifth_of_the_map(width_km: float, bar: float) -> None:
    assert scale_bar_km(width_km) == bar
    assert bar <= width_km * 0.22 and bar > width_km * 0.22 / 2.5 - 1e-9
    assert format_km(0.5) == "0,5 km" and format_km(10) == "10 km"
    assert math.isfinite(scale_bar_km(0.01))


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_route_colours_keep_white_numbers_readable() -> None:
    from mobile_services.reports.plan_view import PALETTE

    assert len(set(PALETTE)) == len(PALETTE)
    assert all(1.05 / (_luminance(colour) + 0.05) >= 4.5 for colour in PALETTE)  # WCAG AA against white text


def test_routes_are_numbered_by_day_then_vehicle_and_files_named_safely() -> None:
    from datetime import UTC, date, datetime

    from mobile_services.reports.plan_view import route_numbers, slug
    from mobile_services.storage import tables as t

    now = datetime(2026, 12, 7, 8, tzinfo=UTC)

    def route(id_: int, day: int, vehicle: int) -> t.Route:
        return t.Route(id=id_, plan_id=1, day=date(2026, 12, day), vehicle_id=vehicle, start_at=now, end_at=now)

    assert route_numbers([route(10, 8, 1), route(11, 7, 2), route(12, 7, 1)]) == {12: 1, 11: 2, 10: 3}
    assert slug("Creuse (23)") == "creuse-23" and slug("Pays de la Vallée (démo)") == "pays-de-la-vallee-demo" and slug("///") == "territoire"
