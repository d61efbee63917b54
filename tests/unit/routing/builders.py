"""Terse constructors for test problems (coordinates around a rural valley in Auvergne)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from routing.problem import (
    Break,
    Candidate,
    Crew,
    CrewMember,
    Location,
    OpeningHours,
    Resource,
    ResourceKind,
    Shift,
    Site,
    TimeWindow,
)

BASE_LAT, BASE_LON = 45.40, 3.20
DAY = 1440


def hm(text: str) -> int:
    """Minutes of day of ``"HH:MM"``."""
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def window(start: str, end: str) -> TimeWindow:
    """A TimeWindow from two ``HH:MM`` strings."""
    return TimeWindow(hm(start), hm(end))


def loc(id: int, dx_km: float = 0.0, dy_km: float = 0.0) -> Location:
    """A location ``dx_km`` east and ``dy_km`` north of the valley's base."""
    return Location(id=id, lat=BASE_LAT + dy_km / 111.2, lon=BASE_LON + dx_km / 78.0)


def site(
    id: int,
    dx_km: float,
    dy_km: float,
    *,
    commune: int | None = None,
    opening: Mapping[int, Iterable[TimeWindow]] | None = None,
    market_days: Iterable[int] = (),
) -> Site:
    """A site; its location id is ``1000 + id``, its commune ``id`` unless given."""
    return Site(
        id=id,
        commune_id=id if commune is None else commune,
        location=loc(1000 + id, dx_km, dy_km),
        opening=OpeningHours.always() if opening is None else OpeningHours.weekly(opening),
        market_days=frozenset(market_days),
    )


def cand(id: int, the_site: Site, duration: int = 120, prize: float = 1.0, **kw: object) -> Candidate:
    """A candidate stop at ``the_site``."""
    return Candidate(id=id, site=the_site, duration=duration, prize=prize, **kw)  # type: ignore[arg-type]


def bus(id: int, depot: Location, cost_per_km: int = 60, skills: Iterable[str] = ()) -> Resource:
    """A bus leaving and returning to ``depot``."""
    return Resource(id=id, kind=ResourceKind.BUS, start=depot, cost_per_km=cost_per_km, skills=frozenset(skills))


def car(id: int, home: Location, skills: Iterable[str] = (), cost_per_km: int = 35) -> Resource:
    """A counsellor driving from and back to ``home``."""
    return Resource(id=id, kind=ResourceKind.CAR, start=home, cost_per_km=cost_per_km, skills=frozenset(skills))


def crew(*members: tuple[int, Iterable[str]]) -> Crew:
    """A crew from ``(counsellor_id, skills)`` pairs."""
    return Crew(members=tuple(CrewMember(counsellor_id=i, skills=frozenset(s)) for i, s in members))


def shift(
    resource_id: int,
    day: int,
    *,
    start: str = "08:30",
    end: str = "17:30",
    the_crew: Crew | None = None,
    lunch: Break | None = Break(),
    max_driving: int | None = None,
    capacity: int | None = None,
) -> Shift:
    """A shift (route-day)."""
    return Shift(
        resource_id=resource_id,
        day=day,
        window=window(start, end),
        crew=the_crew,
        lunch=lunch,
        max_driving=max_driving,
        capacity=capacity,
    )
