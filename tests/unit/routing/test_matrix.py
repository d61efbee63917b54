"""Travel matrices: haversine default and the OSRM adapter with its cache."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from routing.matrix import MatrixError, OsrmTableClient, TravelMatrix, haversine_m, haversine_matrix
from routing.problem import Location


def test_haversine_distance_paris_lyon_is_about_392_km() -> None:
    assert haversine_m(48.8566, 2.3522, 45.7640, 4.8357) == pytest.approx(391_500, rel=0.01)


def test_haversine_matrix_applies_road_factor_and_speed() -> None:
    a = Location(id=1, lat=45.0, lon=3.0)
    b = Location(id=2, lat=45.0 + 30 / 111.195, lon=3.0)  # 30 km north

    m = haversine_matrix([a, b], speed_kmh=60, road_factor=1.3)

    assert m.metres_between(1, 2) == pytest.approx(39_000, rel=0.001)
    assert m.minutes_between(1, 2) == 39  # 39 km at 60 km/h
    assert m.minutes_between(2, 1) == 39 and m.minutes_between(1, 1) == 0


def test_minutes_are_rounded_up() -> None:
    a = Location(id=1, lat=45.0, lon=3.0)
    b = Location(id=2, lat=45.001, lon=3.0)  # ~111 m

    assert haversine_matrix([a, b], speed_kmh=50).minutes_between(1, 2) == 1


def test_matrix_rejects_bad_shapes_and_unknown_ids() -> None:
    with pytest.raises(MatrixError, match="2x2"):
        TravelMatrix(ids=(1, 2), minutes=((0, 1),), metres=((0, 1), (1, 0)))
    m = TravelMatrix(ids=(1, 2), minutes=((0, 1), (1, 0)), metres=((0, 5), (5, 0)))
    with pytest.raises(MatrixError, match="location 3"):
        m.minutes_between(1, 3)


class FakeFetcher:
    """Answers like OSRM: 1 km per 1e-2 degree of latitude at 60 km/h; 2-3 unroutable."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[float, float]]] = []

    def fetch(
        self, coords: Sequence[tuple[float, float]]
    ) -> tuple[list[list[float | None]], list[list[float | None]]]:
        self.calls.append(list(coords))
        km = [[abs(a[0] - b[0]) * 100 for b in coords] for a in coords]
        durations: list[list[float | None]] = [[k * 60.0 for k in row] for row in km]
        distances: list[list[float | None]] = [[k * 1000.0 for k in row] for row in km]
        if len(coords) > 2:
            durations[1][2] = distances[1][2] = None
        return durations, distances


def test_osrm_client_converts_seconds_and_metres() -> None:
    fetcher = FakeFetcher()
    client = OsrmTableClient(fetcher)
    a, b = Location(id=1, lat=45.0, lon=3.0), Location(id=2, lat=45.1, lon=3.0)

    m = client.matrix([a, b])

    assert m.minutes_between(1, 2) == 10 and m.metres_between(1, 2) == 10_000
    assert fetcher.calls == [[(45.0, 3.0), (45.1, 3.0)]]


def test_osrm_client_caches_by_coordinates() -> None:
    fetcher = FakeFetcher()
    client = OsrmTableClient(fetcher)
    a, b = Location(id=1, lat=45.0, lon=3.0), Location(id=2, lat=45.1, lon=3.0)
    client.matrix([a, b])

    again = client.matrix([Location(id=7, lat=45.1, lon=3.0), a])

    assert len(fetcher.calls) == 1 and client.requests == 1
    assert again.minutes_between(7, 1) == 10


def test_osrm_client_falls_back_to_haversine_for_unroutable_pairs() -> None:
    client = OsrmTableClient(FakeFetcher(), fallback_speed_kmh=50)
    pts = [Location(id=i, lat=45.0 + i / 10, lon=3.0) for i in range(3)]

    m = client.matrix(pts)

    assert client.fallbacks == 1
    assert m.minutes_between(1, 2) == pytest.approx(11.1 * 1.3 / 50 * 60, abs=1)


def test_osrm_answer_of_the_wrong_size_is_an_error() -> None:
    class Short:
        def fetch(self, coords: Sequence[tuple[float, float]]) -> tuple[list[list[float]], list[list[float]]]:
            return [[0.0]], [[0.0]]

    with pytest.raises(MatrixError, match="2x2"):
        OsrmTableClient(Short()).matrix([Location(id=1, lat=45, lon=3), Location(id=2, lat=46, lon=3)])
