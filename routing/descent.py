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
drops this path for the rest of the run). The compiled search covers the part of the model
it can express exactly or more strictly:

* transit times and kilometre costs per vehicle kind, values per (route-day, stop), loads
  against capacities, and communes of which at most one site may be visited a week;
* one start window per (route-day, stop): a stop with several (a morning and an afternoon
  opening) keeps the longest, which is stricter than the model, so never wrong.

It does not apply (``FastModel.build`` returns None) to weeks with lunch breaks, driving
limits, second visits of a commune, pins, frozen stops or re-planning penalties: those
keep OR-Tools' descent. The module is optional at install (no compiler: the planner runs
as before).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    return (
        available()
        and not replanning
        and not problem.pins
        and problem.frozen_before is None
        and all(s.lunch is None and s.max_driving is None for s in problem.shifts)
        and all(c.max_visits == 1 for c in problem.candidates)
    )


@dataclass(frozen=True, kw_only=True)
class FastData:
    """Plain data of a routing model, node numbers as in OR-Tools' index manager.

    ``transit[k][i][j]`` and ``km[c][i][j]`` are the time (service of ``i`` included) and
    kilometre cost of arc ``i -> j`` for vehicle kind ``k`` / cost class ``c``;
    ``window[v][i]`` is the start window of stop ``i`` on vehicle ``v`` (None: not allowed);
    ``value[v][i]`` the objective units saved by serving ``i`` on ``v``; ``group[i]`` a
    commune index (at most one served per group) or -1; ``capacity[v]`` None for unlimited.
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


class FastModel:
    """The compiled model of :class:`FastData`; ``descend`` improves routes of node numbers."""

    def __init__(self, data: FastData, neighbours: int | None = None) -> None:
        neighbours = NEIGHBOURS if neighbours is None else neighbours
        if _descent is None:
            raise RuntimeError("routing._descent was not built (no C compiler at install)")
        n = len(data.load)
        m = len(data.vehicle_kind)
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
                tuple(data.window[v]),
                tuple(data.value[v]),
            )
            vprofile.append(profiles.setdefault(key, len(profiles)))
        self.n = n
        self.m = m
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
        )

    def descend(self, routes: Sequence[Sequence[int]], seed: int) -> tuple[list[list[int]], int, bool]:
        """Local optimum reached from ``routes``: (routes, kilometre cost - served value, feasible)."""
        return _descent.descend(self._model, routes, seed & 0xFFFFFFFFFFFFFFFF, MAX_PASSES)

    def evaluate(self, routes: Sequence[Sequence[int]]) -> tuple[int, bool]:
        """(kilometre cost - served value, feasible) of ``routes`` under this model."""
        return _descent.evaluate(self._model, routes)
