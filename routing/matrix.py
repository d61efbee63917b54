"""Travel matrices: how long and how far between two places, in whole minutes and metres.

The solver only ever reads integer matrices keyed by location id, so where the numbers
come from is a detail the app chooses:

* :func:`haversine_matrix` is the embedded default: great-circle distance times a road
  factor (1.3 fits rural French departmental roads well enough to plan a week), driven at
  a constant speed per vehicle kind. No network, deterministic, good for tests.
* :class:`OsrmTableClient` turns the answer of an OSRM ``/table`` request into the same
  matrix. The HTTP call itself is injected as a :class:`TableFetcher` so that ``routing``
  never imports an HTTP library (the app implements the fetcher with httpx).

Durations are rounded *up* to the minute: a plan built on optimistic times is late all
day, one built on pessimistic times only waits a little.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

EARTH_RADIUS_M = 6_371_000.0
DEFAULT_ROAD_FACTOR = 1.3
# Average door-to-door speeds on rural roads, by vehicle kind (the values of
# ``routing.problem.ResourceKind``). A bus with desks is slower than a counsellor's car.
DEFAULT_SPEED_KMH: Mapping[str, float] = {"bus": 45.0, "car": 60.0}


class MatrixError(ValueError):
    """A travel matrix is malformed or does not cover the places it is asked about."""


class Point(Protocol):
    """Anything with an integer id and WGS84 coordinates (``routing.problem.Location``)."""

    @property
    def id(self) -> int: ...

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def minutes_for(metres: float, speed_kmh: float) -> int:
    """Whole minutes (rounded up) to drive ``metres`` at ``speed_kmh``."""
    if speed_kmh <= 0:
        raise MatrixError(f"speed must be positive, got {speed_kmh} km/h")
    return math.ceil(metres / (speed_kmh * 1000.0 / 60.0) - 1e-9)


@dataclass(frozen=True)
class TravelMatrix:
    """Square matrices of driving minutes and metres between locations, keyed by id.

    ``minutes[i][j]`` and ``metres[i][j]`` are from ``ids[i]`` to ``ids[j]``. Matrices may be
    asymmetric (one-way streets, OSRM); they must be non-negative with a zero diagonal.
    """

    ids: tuple[int, ...]
    minutes: tuple[tuple[int, ...], ...]
    metres: tuple[tuple[int, ...], ...]
    _position: Mapping[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = tuple(int(i) for i in self.ids)
        n = len(ids)
        if len(set(ids)) != n:
            raise MatrixError("travel matrix ids must be unique")
        minutes = tuple(tuple(int(v) for v in row) for row in self.minutes)
        metres = tuple(tuple(int(v) for v in row) for row in self.metres)
        for name, rows in (("minutes", minutes), ("metres", metres)):
            if len(rows) != n or any(len(row) != n for row in rows):
                raise MatrixError(f"travel matrix {name} must be {n}x{n} to match its ids")
            for i, row in enumerate(rows):
                if row[i] != 0:
                    raise MatrixError(f"travel matrix {name} must have a zero diagonal")
                if any(v < 0 for v in row):
                    raise MatrixError(f"travel matrix {name} must be non-negative")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "minutes", minutes)
        object.__setattr__(self, "metres", metres)
        object.__setattr__(self, "_position", {loc: k for k, loc in enumerate(ids)})

    def covers(self, ids: Iterable[int]) -> bool:
        """True when every id in ``ids`` has a row in this matrix."""
        return all(i in self._position for i in ids)

    def position(self, location_id: int) -> int:
        """Row/column of a location id (raises :class:`MatrixError` if unknown)."""
        try:
            return self._position[location_id]
        except KeyError:
            raise MatrixError(f"location {location_id} is not in the travel matrix") from None

    def minutes_between(self, origin: int, destination: int) -> int:
        """Driving minutes from location ``origin`` to location ``destination``."""
        return self.minutes[self.position(origin)][self.position(destination)]

    def metres_between(self, origin: int, destination: int) -> int:
        """Driving metres from location ``origin`` to location ``destination``."""
        return self.metres[self.position(origin)][self.position(destination)]


def _unique_points(points: Iterable[Point]) -> list[Point]:
    seen: dict[int, Point] = {}
    for p in points:
        seen.setdefault(p.id, p)
    return list(seen.values())


def haversine_matrix(
    points: Iterable[Point],
    *,
    speed_kmh: float,
    road_factor: float = DEFAULT_ROAD_FACTOR,
) -> TravelMatrix:
    """Matrix from crow-flies distance x ``road_factor`` at a constant ``speed_kmh``.

    Points sharing an id are taken once (the first wins).
    """
    if road_factor < 1.0:
        raise MatrixError(f"road factor must be >= 1, got {road_factor}")
    if speed_kmh <= 0:
        raise MatrixError(f"speed must be positive, got {speed_kmh} km/h")
    pts = _unique_points(points)
    metres: list[list[int]] = []
    minutes: list[list[int]] = []
    for a in pts:
        m_row: list[int] = []
        t_row: list[int] = []
        for b in pts:
            if a.id == b.id:
                m_row.append(0)
                t_row.append(0)
                continue
            road = haversine_m(a.lat, a.lon, b.lat, b.lon) * road_factor
            m_row.append(round(road))
            t_row.append(minutes_for(road, speed_kmh))
        metres.append(m_row)
        minutes.append(t_row)
    return TravelMatrix(
        ids=tuple(p.id for p in pts),
        minutes=tuple(map(tuple, minutes)),
        metres=tuple(map(tuple, metres)),
    )


class TableFetcher(Protocol):
    """Performs one OSRM ``/table`` request (``annotations=duration,distance``).

    ``coords`` are ``(lat, lon)`` pairs; an implementation puts them in OSRM's
    ``lon,lat`` order in the URL. It returns ``(durations_s, distances_m)``, two square
    matrices in the order of ``coords``; an entry is ``None`` when OSRM found no route.
    Network errors are the implementation's to raise: the planner cannot guess times.
    """

    def fetch(
        self, coords: Sequence[tuple[float, float]]
    ) -> tuple[Sequence[Sequence[float | None]], Sequence[Sequence[float | None]]]: ...


Coord = tuple[float, float]


class OsrmTableClient:
    """Builds :class:`TravelMatrix` objects from OSRM answers, with a pair cache.

    The cache is keyed by coordinates rounded to 1e-6 degree (about 10 cm), so a weekly
    re-plan over the same sites does not call OSRM again, and adding one site triggers a
    single new request. Pairs OSRM cannot route (``None``) fall back to the haversine
    estimate at ``fallback_speed_kmh``, counted in :attr:`fallbacks` so the app can warn.
    """

    def __init__(
        self,
        fetcher: TableFetcher,
        *,
        fallback_speed_kmh: float = 50.0,
        road_factor: float = DEFAULT_ROAD_FACTOR,
    ) -> None:
        self._fetcher = fetcher
        self._fallback_speed_kmh = fallback_speed_kmh
        self._road_factor = road_factor
        self._pairs: dict[tuple[Coord, Coord], tuple[int, int]] = {}
        self.requests = 0
        self.fallbacks = 0

    @staticmethod
    def _key(p: Point) -> Coord:
        return (round(float(p.lat), 6), round(float(p.lon), 6))

    def _fetch(self, coords: list[Coord]) -> None:
        durations, distances = self._fetcher.fetch(coords)
        self.requests += 1
        n = len(coords)
        if len(durations) != n or len(distances) != n:
            raise MatrixError(f"OSRM table answer is not {n}x{n}")
        for i, a in enumerate(coords):
            if len(durations[i]) != n or len(distances[i]) != n:
                raise MatrixError(f"OSRM table answer is not {n}x{n}")
            for j, b in enumerate(coords):
                if i == j:
                    self._pairs[(a, b)] = (0, 0)
                    continue
                seconds, metres = durations[i][j], distances[i][j]
                if seconds is None or metres is None:
                    self.fallbacks += 1
                    road = haversine_m(a[0], a[1], b[0], b[1]) * self._road_factor
                    self._pairs[(a, b)] = (
                        minutes_for(road, self._fallback_speed_kmh),
                        round(road),
                    )
                    continue
                if seconds < 0 or metres < 0:
                    raise MatrixError("OSRM table answer has negative entries")
                self._pairs[(a, b)] = (math.ceil(seconds / 60.0 - 1e-9), round(metres))

    def matrix(self, points: Iterable[Point]) -> TravelMatrix:
        """Travel matrix between ``points`` (ids unique; duplicates taken once)."""
        pts = _unique_points(points)
        coords = [self._key(p) for p in pts]
        distinct = list(dict.fromkeys(coords))
        if any((a, b) not in self._pairs for a in distinct for b in distinct):
            self._fetch(distinct)
        minutes = tuple(tuple(self._pairs[(a, b)][0] for b in coords) for a in coords)
        metres = tuple(tuple(self._pairs[(a, b)][1] for b in coords) for a in coords)
        return TravelMatrix(ids=tuple(p.id for p in pts), minutes=minutes, metres=metres)
