"""Our compiled local search, used as the LNS repair when the model allows it.

Why: profiled on the public benchmarks (``benchmarks/README.md``, fourth round), 70 % of
the search time is OR-Tools' greedy descent, which scans every (stop, position) pair of
the model at about 1 microsecond per neighbour: 45 000 neighbours for one repair of a
60-node sub-model. ``routing/_descent.c`` evaluates the same moves on granular
neighbourhoods (each stop's nearest stops) with O(1) time-window checks, about 100 times
faster, so the LNS makes 100 times more steps in the same budget.

OR-Tools stays the engine: it builds the model, finds the first solution, runs the ILS and
guided local search of the portfolio, and judges every new best plan
(``ReadAssignmentFromRoutes`` must accept it and give the same objective, or the solver
drops this path for the rest of the run); the plan's timetable is OR-Tools'. The compiled
search covers the model exactly, or more strictly where noted (stricter is never wrong):

* transit times and kilometre costs per vehicle kind, values per (route-day, stop), loads
  against capacities;
* communes: at most one node of each visit group (a commune's n-th visit) served, and a
  commune served on one day by one route only (two stops there the same day make a full
  day, by one bus or car);
* start windows per (route-day, stop), several when a site opens mornings and afternoons;
* the lunch break: in one gap of the route (on the way, before leaving or after coming
  back), with the route leaving as early as its shift allows;
* the driving limit: the sum of the legs' drives.

Only pins, a re-plan point and re-planning penalties (``applies``) keep OR-Tools' descent.
Time windows are checked in O(1) per move (segments; a stop with several windows counts
there with their hull); the lunch, driving and several-window checks then re-walk the
changed route, O(length squared) with a lunch, fine on a day's 5-10 stops. The module
is optional at install (no compiler: the planner runs as before).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from routing.problem import Problem

try:
    from routing import _descent
except ImportError:  # built without a C compiler: the planner keeps OR-Tools' descent
    _descent = None

# Each stop's nearest stops whose positions a move may use (PyVRP uses 40; measured 20-40).
NEIGHBOURS = 30
# A descent stops after this many passes over the stops even if it still improves.
MAX_PASSES = 1000


def available() -> bool:
    """True when the compiled search was built with the package."""
    return _descent is not None


def applies(problem: Problem, *, replanning: bool) -> bool:
    """The compiled search can be the LNS repair of ``problem`` (see the module docstring).

    ``replanning``: a previous plan's stops carry move penalties and soft start bounds,
    which our search does not model.
    """
    return available() and not replanning and not problem.pins and problem.frozen_before is None


@dataclass(frozen=True, kw_only=True)
class FastData:
    """Plain data of a routing model, node numbers as in OR-Tools' index manager.

    ``transit[k][i][j]`` and ``km[c][i][j]`` are the time (service of ``i`` included) and
    kilometre cost of arc ``i -> j`` for vehicle kind ``k`` / cost class ``c``;
    ``window[v][i]`` is the start window of stop ``i`` on vehicle ``v`` (None: not allowed);
    ``value[v][i]`` the objective units saved by serving ``i`` on ``v``; ``group[i]`` a
    group index or -1, ``group_cap[g]`` how many of its nodes may be served (default 1);
    ``commune[i]`` a commune index or -1 (default: ``group``): a commune's nodes served on
    one ``vehicle_day`` must all be on one vehicle; ``rank[i]`` its visit number (0 first,
    default 0): only first visits of other communes enter a stop's neighbour list, all of
    its own commune's nodes do; ``capacity[v]`` None for unlimited.

    Side constraints, checked on each changed route as a whole: ``max_driving[v]`` bounds
    the sum of ``drive[k][i][j]`` (travel without service), and ``lunch[v] = (earliest
    start, latest start, duration)`` needs a gap in the route (on the way, before leaving or
    after returning); both need ``drive`` and ``service``. ``split[v, i]`` lists the start
    windows of a stop that has several on ``v`` (a morning and an afternoon opening);
    ``window[v][i]`` is then their hull.
    """

    n_places: int
    transit: Sequence[Sequence[Sequence[int]]]
    km: Sequence[Sequence[Sequence[int]]]
    vehicle_kind: Sequence[int]
    vehicle_km: Sequence[int]
    vehicle_start: Sequence[int]
    vehicle_end: Sequence[int]
    vehicle_window: Sequence[tuple[int, int]]
    capacity: Sequence[int | None]
    window: Sequence[Sequence[tuple[int, int] | None]]
    value: Sequence[Sequence[int]]
    load: Sequence[int]
    group: Sequence[int]
    group_cap: Sequence[int] = ()
    vehicle_day: Sequence[int] = ()
    drive: Sequence[Sequence[Sequence[int]]] = ()
    service: Sequence[int] = ()
    max_driving: Sequence[int | None] = ()
    lunch: Sequence[tuple[int, int, int] | None] = ()
    split: Mapping[tuple[int, int], Sequence[tuple[int, int]]] = field(default_factory=dict)
    commune: Sequence[int] = ()
    rank: Sequence[int] = ()


class FastModel:
    """The compiled model of :class:`FastData`; ``descend`` improves routes of node numbers."""

    def __init__(self, data: FastData, neighbours: int | None = None) -> None:
        neighbours = NEIGHBOURS if neighbours is None else neighbours
        if _descent is None:
            raise RuntimeError("routing._descent was not built (no C compiler at install)")
        n = len(data.load)
        m = len(data.vehicle_kind)
        n_groups = max(data.group, default=-1) + 1
        group_cap = (list(data.group_cap) + [1] * n_groups)[:n_groups]
        day = list(data.vehicle_day) or [0] * m
        max_driving = list(data.max_driving) or [None] * m
        lunch = list(data.lunch) or [None] * m
        flat = [x for matrix in data.transit for row in matrix for x in row]
        km = [x for matrix in data.km for row in matrix for x in row]
        wopen: list[int] = []
        wclose: list[int] = []
        for v in range(m):
            for i in range(n):
                w = data.window[v][i]
                wopen.append(w[0] if w is not None else 1)
                wclose.append(w[1] if w is not None else 0)
        profiles: dict[tuple[Any, ...], int] = {}
        vprofile = []
        for v in range(m):
            key = (
                data.vehicle_kind[v],
                data.vehicle_km[v],
                data.vehicle_start[v],
                data.vehicle_end[v],
                data.vehicle_window[v],
                data.capacity[v],
                day[v],
                max_driving[v],
                lunch[v],
                tuple(data.window[v]),
                tuple(sorted((i, tuple(w)) for (u, i), w in data.split.items() if u == v)),
                tuple(data.value[v]),
            )
            vprofile.append(profiles.setdefault(key, len(profiles)))
        split_at = [-1] * (m * n)
        split_n = [0] * (m * n)
        split: list[int] = []
        for (v, i), windows in sorted(data.split.items()):
            split_at[v * n + i] = len(split) // 2
            split_n[v * n + i] = len(windows)
            for lo, hi in sorted(windows):
                split += [lo, hi]
        self.n = n
        self.m = m
        # What route recombination (routing.recombine) needs to combine routes across plans.
        self.profile: list[int] = vprofile
        self.group: list[int] = list(data.group)
        self.group_cap: list[int] = group_cap
        self.commune: list[int] = list(data.commune) or list(data.group)
        self.day: list[int] = day
        self._model = _descent.build(
            n,
            m,
            len(data.transit),
            len(data.km),
            neighbours,
            flat,
            km,
            list(data.vehicle_kind),
            list(data.vehicle_km),
            list(data.vehicle_start),
            list(data.vehicle_end),
            vprofile,
            [w[0] for w in data.vehicle_window],
            [w[1] for w in data.vehicle_window],
            [-1 if c is None else c for c in data.capacity],
            wopen,
            wclose,
            [x for row in data.value for x in row],
            list(data.load),
            list(data.group),
            [1 if i < data.n_places else 0 for i in range(n)],
            group_cap,
            day,
            [x for matrix in data.drive for row in matrix for x in row],
            list(data.service) or [0] * n,
            [-1 if d is None else d for d in max_driving],
            [b[0] if b else 0 for b in lunch],
            [b[1] if b else 0 for b in lunch],
            [b[2] if b else 0 for b in lunch],
            split_at,
            split_n,
            split,
            self.commune,
            list(data.rank) or [0] * n,
        )

    def descend(
        self,
        routes: Sequence[Sequence[int]],
        seed: int,
        touched: Sequence[int] | None = None,
        removed: Sequence[int] = (),
        ratio: bool = False,
    ) -> tuple[list[list[int]], int, bool]:
        """Local optimum reached from ``routes``: (routes, kilometre cost - served value, feasible).

        ``touched``: when ``routes`` is a local optimum from which the stops ``removed``
        were just taken out of the routes ``touched`` (an LNS ruin), the descent only tries
        moves involving those routes, those stops, or what it has changed since: the rest
        was tried already and cannot have become improving. None: try everything.

        ``ratio``: before the descent, reinsert ``removed`` and their unserved neighbours
        greedily by gain squared per minute of the route's time they take (the TOPTW
        recreate; the descent's own insertions come in random order).
        """
        return _descent.descend(
            self._model, routes, seed & 0xFFFFFFFFFFFFFFFF, MAX_PASSES, touched, list(removed), ratio
        )

    def route_costs(self, vehicles: Sequence[int], routes: Sequence[Sequence[int]]) -> list[tuple[int, bool]]:
        """(kilometre cost - served value, feasible) of each route alone on its vehicle."""
        return _descent.route_costs(self._model, vehicles, routes)

    def evaluate(self, routes: Sequence[Sequence[int]]) -> tuple[int, bool]:
        """(kilometre cost - served value, feasible) of ``routes`` under this model."""
        return _descent.evaluate(self._model, routes)
