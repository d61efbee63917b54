"""The week as one OR-Tools routing model (prize-collecting VRP with time windows).

Built once per search from a :class:`~routing.precheck.Preparation` by :class:`Model`,
which also converts between the forms a plan takes on the way: routing indices per
vehicle (what OR-Tools reads), assignments (what it returns) and candidate ids per
route-day key (:data:`PlanRoutes`, what any model of the same problem reads). The searches
are in :mod:`routing.lns` and :mod:`routing.solver`, the plan's decoding in
:mod:`routing.decode`.

**Vehicles.** Every route-day (a :class:`~routing.problem.Shift` that survives
:func:`routing.precheck.route_days`: a bus needs a crew) is one OR-Tools vehicle, with
its own start and end node (depot or home) and its own travel matrices (bus or car
speed). Vehicle ``v`` of day ``d`` may only leave and return inside
``d * 1440 + shift window``.

**Time is absolute week-minutes.** A single ``time`` dimension runs from Monday 00:00
to Sunday 24:00 (in units of :attr:`~routing.problem.Problem.day_length` per day: minutes
for the app, finer for benchmarks given in hundredths). Because each vehicle's start and
end cumuls are pinned to its own day, every node it visits is on that day: "which day" is simply "which vehicle". The transit
``i -> j`` is ``service(i) + travel(i, j)`` (per vehicle kind, registered with
``RegisterTransitMatrix``: no Python callback in the search); slack is waiting. The
cumul of a stop is the *start of service*.

**Nodes.** One node per possible visit: a candidate with ``max_visits = k`` has ``k``
nodes (copies). Place nodes (depots, homes) come first. The cumul domain of a node is the
union, over the route-days it may use, of the start intervals computed by
:mod:`routing.precheck` (opening window holds the whole stop, inside the shift, reachable
from the route's start and back, not swallowing the lunch window, after a re-plan point):
``SetRange`` on the hull and ``RemoveInterval`` on the gaps. Route-days a node may not use
(crew lacks a skill, no fitting window that day, load above the capacity, pin) are
removed from its ``VehicleVar`` domain (``SetAllowedVehiclesForIndex`` is not callable
from Python in OR-Tools 9.15: its ``absl::Span`` argument has no SWIG typemap).

**Lunch break.** Each vehicle with a :class:`~routing.problem.Break` gets a
fixed-duration ``IntervalVar`` whose start ranges over ``[window.start, window.end -
duration]`` of its day, passed to ``SetBreakIntervalsOfVehicle`` with node visit
transits equal to service durations: a break never overlaps a service, and when it falls
between two stops the gap must hold the drive plus the break. The plan's timetable then
places the drive before, after or around the break (:func:`routing.decode.timetable`).

**Driving limit.** A ``driving`` dimension whose transit is the travel time only, with
the vehicle's ``max_driving`` as capacity.

**Load.** Only when some node has a :attr:`~routing.problem.Candidate.load` and some
route-day a :attr:`~routing.problem.Shift.capacity` (the app's usual problems have
neither, and pay nothing): a ``load`` dimension whose unary transit is the node's load
(places 0; ``RegisterUnaryTransitVector``, no Python callback), slack 0, start cumul 0,
and the vehicle's capacity (unlimited = the sum of every load) as its bound. Route-days
that a node's load alone would overflow were already removed from its options by
:mod:`routing.precheck`.

**Prizes.** A commune's nodes are grouped by visit: the n-th visit group holds the
``visit_index`` n copy of each of its candidates, and each group is one disjunction (at
most one served) with penalty ``P`` = the best value any of its nodes can reach. So a
commune gets at most as many stops as its candidates' largest ``max_visits``, and the
n-th stop is worth the n-th visit's value (``Candidate.visit_prize``: a second stop can be
worth less than a first one elsewhere) whichever site makes it. A node's value on vehicle
``v`` is ``boosted_prize(visit prize for v's desks) + market bonus (if v's day is a market
day) + move bonus (v is where the stop was in the previous plan)`` times
``prize_scale``; the difference ``P - value`` is added to the cost of every arc leaving
the node on that vehicle. Serving a node therefore saves exactly its value, and since
vehicle-dependent values live in per-vehicle cost matrices (deduplicated), the objective
stays a plain matrix lookup. A commune's stops of one day are all on one route-day (two
stops there the same day are a full day, morning and afternoon with lunch between): for
every pair of its nodes, ``day(a) != day(b) or vehicle(a) == vehicle(b)`` (days by
``Element`` over ``VehicleVar``).

**Scale.** Arc costs are kilometre costs in euro cents (``metres * cost_per_km /
1000``). One unit of prize is ``prize_scale`` (default 100 000 = 1 000 euros), so prizes
dominate and kilometres break ties. The first visit of a mandatory candidate gets an extra
value ``H`` = twice the sum of every other value and of a bound on kilometre costs; pinned
and frozen nodes get ``(number of mandatory nodes + 1) * H`` (pins outrank mandatory
visits). The search serves them whenever it can, and when it cannot the plan reports it
instead of failing as a hard constraint would.

**Re-planning.** ``initial`` warm-starts the search (``ReadAssignmentFromRoutes`` then
``SolveFromAssignmentWithParameters``, :mod:`routing.solver`). With
``problem.frozen_before``, stops of ``initial`` that started before it are frozen (same
route-day, same start) and nothing new starts before it. Other stops of ``initial`` keep a
move bonus (``params.move_penalty``) on their previous route-day and a soft cumul bound
around their previous start (``params.shift_penalty_per_min``), so a re-plan moves as
little as it must.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from ortools.constraint_solver import pywrapcp

from routing.descent import FastData
from routing.descent import applies as descent_applies
from routing.params import SolveParams
from routing.precheck import NodeSpec, Preparation, RouteDay
from routing.problem import Problem, ResourceKind, boosted_prize
from routing.result import Plan

# Candidate ids in visit order, per route-day key: a plan any model of the same problem reads.
PlanRoutes = dict[tuple[int, int], list[int]]


class Model:
    """One OR-Tools routing model built from a :class:`Preparation` (see the module docstring).

    ``specs[k]`` is node ``n_places + k`` (places first); ``values[k]`` its scaled value per
    allowed vehicle (hard bonus included once built), ``soft_values[k]`` the best of them
    without it; ``levels`` its visit groups and ``caps`` the stops each commune may get.
    """

    def __init__(self, problem: Problem, prep: Preparation, params: SolveParams) -> None:
        self.problem = problem
        self.prep = prep
        self.params = params
        self.days: tuple[RouteDay, ...] = prep.route_days
        order = list(range(len(prep.nodes)))
        if params.seed:
            random.Random(params.seed).shuffle(order)
        self.specs: list[NodeSpec] = [prep.nodes[k] for k in order]
        places: dict[int, int] = {}
        for rd in self.days:
            for loc in (rd.resource.start.id, rd.resource.end_location.id):
                places.setdefault(loc, len(places))
        self.n_places = len(places)
        self.node_loc: list[int] = list(places) + [s.candidate.site.location.id for s in self.specs]
        self.service: list[int] = [0] * self.n_places + [s.candidate.duration for s in self.specs]
        self.loads: list[int] = [0] * self.n_places + [s.candidate.load for s in self.specs]
        self.capacities: list[int] | None = None  # per vehicle, when the load dimension exists
        starts = [places[rd.resource.start.id] for rd in self.days]
        ends = [places[rd.resource.end_location.id] for rd in self.days]
        self.manager = pywrapcp.RoutingIndexManager(len(self.node_loc), len(self.days), starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.solver = self.routing.solver()
        self.values = [self._values(s) for s in self.specs]
        self.soft_values = [max(v.values(), default=0) for v in self.values]
        self.breaks: dict[int, pywrapcp.IntervalVar] = {}
        self._partial: pywrapcp.Assignment | None = None
        self._nodes: list[int] | None = None
        self._build()

    # -- values -------------------------------------------------------------------------

    def base_value(self, spec: NodeSpec, rd: RouteDay) -> float:
        """Prize units of serving ``spec`` on route-day ``rd`` (fairness and market bonus, no move bonus)."""
        c = spec.candidate
        value = boosted_prize(
            c.visit_prize(spec.visit_index, rd.shift.desks),
            c.weeks_since_visit,
            per_week=self.params.fairness_per_week,
            max_factor=self.params.fairness_max_factor,
        )
        if rd.day in c.site.market_days:
            value += c.market_bonus
        return value

    def _values(self, spec: NodeSpec) -> dict[int, int]:
        """Scaled value of serving ``spec`` on each allowed vehicle (without the hard bonus)."""
        out = {}
        for v in spec.options:
            value = self.base_value(spec, self.days[v])
            if spec.prior is not None and spec.prior[0] == v and not spec.frozen:
                value += self.params.move_penalty
            out[v] = round(value * self.params.prize_scale)
        return out

    def median_value(self) -> float:
        """Median value of a stop worth something: the unit of the searches' temperatures."""
        soft = sorted(v for v in self.soft_values if v > 0)
        return float(soft[len(soft) // 2]) if soft else 0.0

    # -- model --------------------------------------------------------------------------

    def _node_matrix(self, rd: RouteDay, which: str) -> list[list[int]]:
        table = rd.matrix.minutes if which == "minutes" else rd.matrix.metres
        pos = [rd.matrix.position(loc) for loc in self.node_loc]
        return [[table[i][j] for j in pos] for i in pos]

    def _build(self) -> None:
        """Everything OR-Tools needs, in this order (evaluators are registered as they come)."""
        kinds = {rd.resource.kind for rd in self.days}
        minutes = {
            k: self._node_matrix(next(rd for rd in self.days if rd.resource.kind == k), "minutes") for k in kinds
        }
        metres = {k: self._node_matrix(next(rd for rd in self.days if rd.resource.kind == k), "metres") for k in kinds}
        self.minutes = minutes[self.days[0].resource.kind]
        time_eval, drive_eval = self._register_transits(minutes)
        self._add_hard_values(metres)
        fixed = self._add_visit_groups()
        self._add_commune_day_rule()
        self._set_arc_costs(fixed)
        self._add_dimensions(time_eval, drive_eval)
        self._set_route_windows()
        self._set_node_windows()
        self._add_breaks()

    def _register_transits(
        self, minutes: dict[ResourceKind, list[list[int]]]
    ) -> tuple[dict[ResourceKind, int], dict[ResourceKind, int]]:
        """Transit matrices per vehicle kind: time = service + travel, driving = travel."""
        routing = self.routing
        n_nodes = len(self.node_loc)
        self._minutes_of_kind = minutes
        self._transit_of_kind = {
            k: [[self.service[i] + row[j] if i != j else 0 for j in range(n_nodes)] for i, row in enumerate(minutes[k])]
            for k in minutes
        }
        time_eval = {k: routing.RegisterTransitMatrix(matrix) for k, matrix in self._transit_of_kind.items()}
        drive_eval = {k: routing.RegisterTransitMatrix(minutes[k]) for k in minutes}
        return time_eval, drive_eval

    def _add_hard_values(self, metres: dict[ResourceKind, list[list[int]]]) -> None:
        """Kilometre costs per (kind, cost per km), and the hard value H added to mandatory and pinned nodes.

        H dominates everything else the objective can contain.
        """
        n_nodes = len(self.node_loc)
        km_base: dict[tuple[object, int], list[list[int]]] = {}
        for rd in self.days:
            key = (rd.resource.kind, rd.resource.cost_per_km)
            if key not in km_base:
                per_m = rd.resource.cost_per_km
                km_base[key] = [[(m * per_m + 500) // 1000 for m in row] for row in metres[rd.resource.kind]]
        self._km_base = km_base
        km_bound = max((max(max(row) for row in base) for base in km_base.values()), default=0) * (
            n_nodes + 2 * len(self.days)
        )
        soft_sum = sum(max(v.values()) for v in self.values)
        mandatory_value = 2 * (soft_sum + km_bound) + 1
        n_mandatory = sum(1 for s in self.specs if s.mandatory)
        n_pinned = sum(1 for s in self.specs if s.pinned or s.frozen)
        # Pins and frozen stops outrank mandatory visits (the coordinator said so explicitly;
        # a frozen stop already happened), unless that would overflow 64 bits.
        pin_value = (n_mandatory + 1) * mandatory_value
        if (n_pinned + 1) * pin_value > 10**18:
            pin_value = mandatory_value
        for spec, values in zip(self.specs, self.values):
            bonus = pin_value if spec.pinned or spec.frozen else mandatory_value if spec.mandatory else 0
            for v in values:
                values[v] += bonus

    def _add_visit_groups(self) -> list[list[int]]:
        """One disjunction per visit group; returns the fixed cost ``P - value`` of leaving each node, per vehicle.

        Visit groups are the n-th visits of a commune's candidates (``visit_index`` n), at
        most one served; the n-th visit of a commune is worth its own value whichever site
        makes it.
        """
        routing, manager = self.routing, self.manager
        self.levels = visit_groups(self.specs)
        fixed = [[0] * len(self.node_loc) for _ in self.days]
        self.caps: dict[int, int] = {}
        for (commune, _), members in self.levels.items():
            self.caps[commune] = self.caps.get(commune, 0) + 1
            penalty = max(max(self.values[k].values()) for k in members)
            indices = [manager.NodeToIndex(self.n_places + k) for k in members]
            routing.AddDisjunction(indices, penalty)
            for k in members:
                for v, value in self.values[k].items():
                    fixed[v][self.n_places + k] = penalty - value
        return fixed

    def _add_commune_day_rule(self) -> None:
        """A commune's stops of one day are on one route-day (a full day there).

        So two route-days serving the same commune do so on different days. For every pair
        of the commune's nodes: ``day(a) != day(b) or vehicle(a) == vehicle(b)``.
        """
        routing, manager, solver = self.routing, self.manager, self.solver
        by_commune: dict[int, list[int]] = {}
        for (commune, _), members in self.levels.items():
            by_commune.setdefault(commune, []).extend(members)
        for members in by_commune.values():
            if len(members) < 2:
                continue
            indices = [manager.NodeToIndex(self.n_places + k) for k in members]
            vehicle_vars = [routing.VehicleVar(idx) for idx in indices]
            day_vars = []
            for sentinel, var in enumerate(vehicle_vars, start=1):
                table = [-sentinel] + [rd.day for rd in self.days]
                day_vars.append(solver.Element(table, (var + 1).Var()).Var())
            for a, b in itertools.combinations(range(len(indices)), 2):
                solver.Add(
                    solver.IsDifferentVar(day_vars[a], day_vars[b]) + solver.IsEqualVar(vehicle_vars[a], vehicle_vars[b])
                    >= 1
                )

    def _set_arc_costs(self, fixed: list[list[int]]) -> None:
        """Arc costs per vehicle: kilometre cost + fixed cost of leaving the node (matrices shared when equal)."""
        routing = self.routing
        cost_eval: dict[tuple[object, ...], int] = {}
        for v, rd in enumerate(self.days):
            base_key = (rd.resource.kind, rd.resource.cost_per_km)
            key = base_key + (tuple(fixed[v]),)
            if key not in cost_eval:
                base = self._km_base[base_key]
                matrix = [[c + f for c in row] if f else row for row, f in zip(base, fixed[v])]
                cost_eval[key] = routing.RegisterTransitMatrix(matrix)
            routing.SetArcCostEvaluatorOfVehicle(cost_eval[key], v)

    def _add_dimensions(self, time_eval: dict[ResourceKind, int], drive_eval: dict[ResourceKind, int]) -> None:
        """Time in absolute week time (week-minutes for the app), driving, and load when a load can meet a capacity."""
        routing = self.routing
        week = self.problem.week_length
        routing.AddDimensionWithVehicleTransits(
            [time_eval[rd.resource.kind] for rd in self.days], week, week, False, "time"
        )
        self.time = routing.GetDimensionOrDie("time")
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [drive_eval[rd.resource.kind] for rd in self.days],
            0,
            [rd.shift.max_driving if rd.shift.max_driving is not None else week for rd in self.days],
            True,
            "driving",
        )
        if any(self.loads) and any(rd.capacity is not None for rd in self.days):
            unlimited = sum(self.loads)
            self.capacities = [rd.capacity if rd.capacity is not None else unlimited for rd in self.days]
            load_eval = routing.RegisterUnaryTransitVector(self.loads)
            routing.AddDimensionWithVehicleCapacity(load_eval, 0, self.capacities, True, "load")

    def _set_route_windows(self) -> None:
        """Each route leaves and returns inside its shift (after the re-plan point unless it holds a frozen stop)."""
        routing = self.routing
        frozen_vehicles = {next(iter(s.options)) for s in self.specs if s.frozen}
        point = self.problem.frozen_before
        for v, rd in enumerate(self.days):
            lo, hi = rd.window.start, rd.window.end
            if point is not None and v not in frozen_vehicles:
                lo = min(max(lo, point), hi)
            self.time.CumulVar(routing.Start(v)).SetRange(lo, hi)
            self.time.CumulVar(routing.End(v)).SetRange(lo, hi)
            routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(routing.End(v)))

    def _set_node_windows(self) -> None:
        """Each node's start domain (union of its options' intervals), its route-days, its soft re-plan bounds."""
        routing, manager = self.routing, self.manager
        for k, spec in enumerate(self.specs):
            idx = manager.NodeToIndex(self.n_places + k)
            intervals = sorted({w for ws in spec.options.values() for w in ws})
            merged: list[list[int]] = []
            for w in intervals:
                if merged and w.start <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], w.end)
                else:
                    merged.append([w.start, w.end])
            cumul = self.time.CumulVar(idx)
            cumul.SetRange(merged[0][0], merged[-1][1])
            for (_, a_end), (b_start, _) in zip(merged, merged[1:]):
                cumul.RemoveInterval(a_end + 1, b_start - 1)
            if len(spec.options) < len(self.days):
                routing.VehicleVar(idx).SetValues([-1] + sorted(spec.options))
            if spec.prior is not None and not spec.frozen and self.params.shift_penalty_per_min > 0:
                coef = self.params.shift_penalty_per_min
                self.time.SetCumulVarSoftUpperBound(idx, spec.prior[1], coef)
                self.time.SetCumulVarSoftLowerBound(idx, spec.prior[1], coef)

    def _add_breaks(self) -> None:
        """The lunch break of each route-day that has one, never overlapping a service."""
        routing, manager, solver = self.routing, self.manager, self.solver
        visit_transits = [self.service[manager.IndexToNode(i)] for i in range(routing.Size())]
        for v, rd in enumerate(self.days):
            brk = rd.shift.lunch
            if brk is None:
                continue
            offset = rd.offset
            interval = solver.FixedDurationIntervalVar(
                offset + brk.window.start, offset + brk.latest_start, brk.duration, False, f"lunch_{v}"
            )
            self.breaks[v] = interval
            self.time.SetBreakIntervalsOfVehicle([interval], v, visit_transits)

    def drop_build_tables(self) -> None:
        """Free the Python copies of the matrices once OR-Tools (and :meth:`fast_data`) have them."""
        del self._transit_of_kind, self._km_base, self._minutes_of_kind

    # -- plans in their three forms -----------------------------------------------------

    def warm_routes(self, initial: Plan) -> list[list[int]]:
        """Routes of ``initial`` as lists of routing indices of this model."""
        return self.index_routes(
            {
                (route.resource_id, route.day): [v.candidate_id for v in sorted(route.visits, key=lambda x: x.start)]
                for route in initial.routes
            }
        )

    def index_routes(self, by_key: PlanRoutes) -> list[list[int]]:
        """Candidate ids per route-day key as lists of routing indices (unknown ones dropped)."""
        by_v = {rd.key: v for v, rd in enumerate(self.days)}
        free: dict[int, list[int]] = {}
        for k, spec in enumerate(self.specs):
            free.setdefault(spec.candidate.id, []).append(k)
        routes: list[list[int]] = [[] for _ in self.days]
        taken: set[tuple[int, int]] = set()
        for key, candidate_ids in by_key.items():
            v = by_v.get(key)
            if v is None:
                continue
            for candidate_id in candidate_ids:
                # the lowest visit of its commune not taken yet (one node per visit group)
                choices = [
                    k
                    for k in free.get(candidate_id, [])
                    if v in self.specs[k].options
                    and (self.specs[k].candidate.commune_id, self.specs[k].visit_index) not in taken
                ]
                if not choices:
                    continue
                choices.sort(
                    key=lambda k: (not self.specs[k].frozen, not self.specs[k].pinned, self.specs[k].visit_index, k)
                )
                k = choices[0]
                free[candidate_id].remove(k)
                taken.add((self.specs[k].candidate.commune_id, self.specs[k].visit_index))
                routes[v].append(self.manager.NodeToIndex(self.n_places + k))
        return routes

    def plan_routes(self, routes: Sequence[Sequence[int]]) -> PlanRoutes:
        """Candidate ids per route-day key: a plan any model of the same problem can read."""
        node = self.manager.IndexToNode
        return {
            rd.key: [self.specs[node(i) - self.n_places].candidate.id for i in r] for rd, r in zip(self.days, routes)
        }

    def routes_of(self, solution: pywrapcp.Assignment) -> list[list[int]]:
        """Routing indices of the stops of each vehicle in ``solution``, in order."""
        routing = self.routing
        out = []
        for v in range(len(self.days)):
            index = solution.Value(routing.NextVar(routing.Start(v)))
            route = []
            while not routing.IsEnd(index):
                route.append(index)
                index = solution.Value(routing.NextVar(index))
            out.append(route)
        return out

    def node_of(self) -> list[int]:
        """Node of every routing index (the index manager's map as a list)."""
        if self._nodes is None:
            manager = self.manager
            self._nodes = [manager.IndexToNode(i) for i in range(manager.GetNumberOfIndices())]
        return self._nodes

    def assignment(self, routes: Sequence[Sequence[int]]) -> pywrapcp.Assignment:
        """A fresh assignment of the next variables for ``routes`` (absent stops unperformed).

        Used instead of the assignment ``ReadAssignmentFromRoutes`` returns: that one is
        owned by the model, and solving from it left later ``ReadAssignmentFromRoutes``
        calls refusing feasible routes (seen on the rural territories with OR-Tools 9.15).
        """
        routing = self.routing
        following: dict[int, int] = {}
        for v, route in enumerate(routes):
            path = [routing.Start(v), *route, routing.End(v)]
            following.update(itertools.pairwise(path))
        if self._partial is None:  # one object reused: the solver frees assignments only at the end
            self._partial = self.solver.Assignment()
            for i in range(routing.Size()):
                self._partial.Add(routing.NextVar(i))
        for i in range(routing.Size()):
            self._partial.SetValue(routing.NextVar(i), following.get(i, i))
        return self._partial

    def replanning(self) -> bool:
        """Stops of a previous plan carry move penalties or are frozen (warm-started re-plan)."""
        return any(s.prior is not None or s.frozen for s in self.specs)

    # -- the same model for the compiled descent -----------------------------------------

    def fast_data(self) -> FastData | None:
        """This model as plain data for :mod:`routing.descent`, or None where it cannot express it.

        Before :meth:`drop_build_tables` only.
        """
        if not descent_applies(self.problem, replanning=self.replanning()):
            return None
        n_places = self.n_places
        n = len(self.node_loc)
        place = {loc: i for i, loc in enumerate(self.node_loc[:n_places])}
        kinds = list(self._transit_of_kind)
        km_keys = list(self._km_base)
        members: dict[int, int] = {}
        for spec in self.specs:
            members[spec.candidate.commune_id] = members.get(spec.candidate.commune_id, 0) + 1
        communes = {c: i for i, c in enumerate(c for c, count in members.items() if count > 1)}
        group_key = {k: key for key, ks in self.levels.items() if len(ks) > 1 for k in ks}
        groups = {key: g for g, key in enumerate(dict.fromkeys(group_key[k] for k in sorted(group_key)))}
        side = any(rd.shift.lunch is not None or rd.shift.max_driving is not None for rd in self.days)
        window: list[list[tuple[int, int] | None]] = []
        value: list[list[int]] = []
        split: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for v in range(len(self.days)):
            w_row: list[tuple[int, int] | None] = [None] * n
            v_row = [0] * n
            for k, spec in enumerate(self.specs):
                options = spec.options.get(v)
                if options:
                    w_row[n_places + k] = (min(w.start for w in options), max(w.end for w in options))
                    v_row[n_places + k] = self.values[k][v]
                    if len(options) > 1:
                        split[v, n_places + k] = [(w.start, w.end) for w in options]
            window.append(w_row)
            value.append(v_row)
        return FastData(
            n_places=n_places,
            transit=[self._transit_of_kind[k] for k in kinds],
            km=[self._km_base[key] for key in km_keys],
            vehicle_kind=[kinds.index(rd.resource.kind) for rd in self.days],
            vehicle_km=[km_keys.index((rd.resource.kind, rd.resource.cost_per_km)) for rd in self.days],
            vehicle_start=[place[rd.resource.start.id] for rd in self.days],
            vehicle_end=[place[rd.resource.end_location.id] for rd in self.days],
            vehicle_window=[(rd.window.start, rd.window.end) for rd in self.days],
            capacity=list(self.capacities) if self.capacities is not None else [None] * len(self.days),
            window=window,
            value=value,
            load=self.loads,
            group=[-1] * n_places + [groups[group_key[k]] if k in group_key else -1 for k in range(len(self.specs))],
            group_cap=[1] * len(groups),
            commune=[-1] * n_places + [communes.get(s.candidate.commune_id, -1) for s in self.specs],
            rank=[0] * n_places + [s.visit_index for s in self.specs],
            vehicle_day=[rd.day for rd in self.days],
            drive=[self._minutes_of_kind[k] for k in kinds] if side else [],
            service=self.service,
            max_driving=[rd.shift.max_driving for rd in self.days],
            lunch=[
                (rd.offset + b.window.start, rd.offset + b.latest_start, b.duration) if (b := rd.shift.lunch) else None
                for rd in self.days
            ],
            split=split,
        )


def visit_groups(specs: Sequence[NodeSpec]) -> dict[tuple[int, int], list[int]]:
    """Spec positions by (commune, visit_index): the candidates' n-th visits of each commune."""
    levels: dict[tuple[int, int], list[int]] = {}
    for k, spec in enumerate(specs):
        levels.setdefault((spec.candidate.commune_id, spec.visit_index), []).append(k)
    return levels
