"""What it would take to add one stop to a planned route-day: the stops to drop, the drive to add.

Coordinators read "why was my commune left out?" as "what would it have cost?". Counting
only the stops a new one would overlap in time understates that cost: the bus must also
drive there and on, and in the Creuse that detour alone can swallow a half-day. So the
stop is tried in every gap of the planned day, first as is and then in place of the
cheapest runs of consecutive stops, the others kept at their planned times (the planner
could also shift them, so this is what a coordinator could do by hand, a fair upper bound
of the cost), with the real drives, the shift, the lunch break and the driving limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from routing.decode import timetable
from routing.precheck import RouteDay
from routing.problem import Candidate, TimeWindow
from routing.result import Route, Visit


@dataclass(frozen=True, kw_only=True)
class Insertion:
    """``removed``: the planned stops the new one replaces; ``extra_drive``: minutes of driving it adds."""

    route_day: RouteDay
    removed: tuple[Visit, ...]
    extra_drive: int

    @property
    def removed_value(self) -> float:
        """What the route-day gives up, in the planner's prize units."""
        return sum(v.prize for v in self.removed)


def cheapest_insertion(
    rd: RouteDay, route: Route | None, windows: Iterable[TimeWindow], candidate: Candidate
) -> Insertion | None:
    """The insertion of ``candidate`` on ``rd`` that gives up the least value, or None if none fits.

    ``windows``: the candidate's allowed start times on that route-day (week minutes).
    ``route``: the planned route-day (None when it has no stop).
    """
    visits: Sequence[Visit] = route.visits if route is not None else ()
    base_drive = route.driving_min if route is not None else 0
    hint = route.lunch[0] if route is not None and route.lunch else None
    site = candidate.site.location.id
    windows = tuple(windows)
    n = len(visits)
    blocks = sorted(
        ((i, j) for i in range(n + 1) for j in range(i, n + 1)),
        key=lambda b: (sum(v.prize for v in visits[b[0] : b[1]]), b[1] - b[0]),
    )
    for i, j in blocks:
        if any(v.pinned or v.frozen for v in visits[i:j]):
            continue  # the coordinator kept these, or they already happened
        before, after = visits[:i], visits[j:]
        lo = before[-1].end if before else rd.window.start
        hi = after[0].start if after else rd.window.end
        prev_loc = before[-1].location_id if before else rd.resource.start.id
        next_loc = after[0].location_id if after else rd.resource.end_location.id
        t_in = rd.matrix.minutes_between(prev_loc, site)
        t_on = rd.matrix.minutes_between(site, next_loc)
        for start in _starts(rd, windows, lo + t_in, hi - t_on - candidate.duration):
            services = [(v.location_id, v.start, v.end) for v in before]
            services.append((site, start, start + candidate.duration))
            services += [(v.location_id, v.start, v.end) for v in after]
            drive = _feasible_drive(rd, services, hint)
            if drive is not None:
                return Insertion(route_day=rd, removed=tuple(visits[i:j]), extra_drive=drive - base_drive)
    return None


def _starts(rd: RouteDay, windows: Sequence[TimeWindow], earliest: int, latest: int) -> list[int]:
    """Start times worth trying: each window's edges, and room for the lunch before or after."""
    brk = rd.shift.lunch
    out: list[int] = []
    for w in windows:
        a, b = max(w.start, earliest), min(w.end, latest)
        if a > b:
            continue
        tries = [a, b]
        if brk is not None:
            tries += [a + brk.duration, b - brk.duration, rd.offset + brk.window.start + brk.duration]
        out += sorted({min(max(s, a), b) for s in tries})
    return out


def _feasible_drive(rd: RouteDay, services: Sequence[tuple[int, int, int]], hint: int | None) -> int | None:
    """Minutes of driving of the day with these fixed service times, or None if it does not fit."""
    locs = [rd.resource.start.id] + [loc for loc, _, _ in services] + [rd.resource.end_location.id]
    lows = [rd.window.start] + [end for _, _, end in services]
    highs = [start for _, start, _ in services] + [rd.window.end]
    drives = [rd.matrix.minutes_between(a, b) for a, b in zip(locs, locs[1:])]
    if any(hi - lo < t for lo, hi, t in zip(lows, highs, drives)):
        return None
    legs, _ = timetable(rd, services, hint)
    if legs is None:
        return None
    total = sum(drives)
    limit = rd.shift.max_driving
    if limit is not None and total > limit:
        return None
    return total
