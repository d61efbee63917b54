"""Weekly tour planning as one OR-Tools routing model (prize-collecting VRP with time windows).

``solve(problem, params, progress=None, initial=None) -> Plan`` is the only entry point,
and this is the only module that imports OR-Tools' routing library.

The model
=========

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
places the drive before, after or around the break (see ``_timetable``).

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
``SolveFromAssignmentWithParameters``). With ``problem.frozen_before``, stops of
``initial`` that started before it are frozen (same route-day, same start) and nothing new
starts before it. Other stops of ``initial`` keep a move bonus (``params.move_penalty``)
on their previous route-day and a soft cumul bound around their previous start
(``params.shift_penalty_per_min``), so a re-plan moves as little as it must.

**Search.** Three strategies (``params.strategy``), all on this one model, built once; the
build counts against ``params.time_limit_s`` (``solve_single``).

*``"lns"`` (default): ruin and recreate around OR-Tools.* Two repairs exist; the compiled
one is used wherever :func:`routing.descent.applies` (everything but pins, a re-plan point
and re-planning penalties).

*With our compiled descent* (``_fast_lns``, :mod:`routing.descent`): OR-Tools builds the
first solution (``params.first_solution``, parallel cheapest insertion by default) and
stops there; then each step ruins the current plan as in 1. below and our granular local
search (insert, replace, remove, relocate, swap, 2-opt, or-opt of 2-3 stops, 2-opt* on
each stop's 30 nearest stops, O(1) time-window checks) repairs it on the whole model in
about half a millisecond, 100 times faster than OR-Tools' descent, trying only moves that
involve the routes the ruin touched or what changed since; acceptance as in 4., warmer
(start temperature one median stop value; back to the best plan after 4 000 steps
without a new best). Every new best plan is read back by OR-Tools
(``ReadAssignmentFromRoutes``), which must accept it with the same objective; if it ever
does not, the step loop below takes over for the rest of the budget, and the plan says so.
On 8 TOPTW pairs (10 s, one core) the sum of scores went from 8 527 to 9 024.
Where stops are chosen (not all mandatory) and there are several route-days, every plan
the descent returns also feeds a pool of routes, and at 60 %, 80 % and 95 % of the budget
:mod:`routing.recombine` picks with CP-SAT the best plan made of pooled routes that fit
together (one per route-day, each stop once, commune caps); when it beats the best plan,
the search goes on from it (TOPTW pr20 m=2: 1 201 -> 1 220 on average over four seeds).

*With OR-Tools' descent* (``_lns``): the first solution is followed by OR-Tools'
greedy descent to a local optimum, with a curated operator set (``_repair_parameters``:
no CP-based LNS, no cheapest-insertion LNS, no chain / shortest-path / Lin-Kernighan /
cross moves, which cost 2-3x per descent without improving the outer loop). Then, until
the time limit (or ``params.solution_limit`` steps):

1. *ruin* (:mod:`routing.search`): remove 2-12 stops of the current plan, by one of five
   operators drawn at random: the stops closest to a random stop (related, Shaw/SISR),
   strings of consecutive stops on the routes around a random stop, random stops, most
   of one route-day, or the stops worth least per minute they cost (randomised). Pins and
   frozen stops are never removed;
2. *perturb*: try to place up to two of the most valuable unserved stops near the ruin
   (not the removed ones) at their cheapest feasible positions (feasibility by
   ``ReadAssignmentFromRoutes``). Without this the descent, which takes the first
   improving move in a fixed order, mostly puts the removed stops back;
3. *recreate*: ``SolveFromAssignmentWithParameters`` from that partial plan (a fresh
   assignment of the next variables, see ``_assignment``) with the greedy descent:
   OR-Tools inserts, relocates and swaps stops until a local optimum. Every constraint
   of the model (windows, lunch, driving, days of second visits) is enforced by OR-Tools
   itself, so every plan the loop sees is feasible;
4. *accept* (:class:`routing.search.Acceptance`): a plan at least as good always, a worse
   one with probability ``exp(-delta / T)``, ``T`` falling linearly from 30 % of a median
   stop's value to 0 over the budget; after 400 steps without a new best the search goes
   back to the best plan.

*Focused steps* (``_focus_step``, :mod:`routing.focus`). On models of 100 nodes or more,
with no pins, frozen stops or re-planning penalties, 80 % of the steps instead take two
neighbouring route-days (more when they hold fewer than 50 stops and nothing is unserved,
as in VRPTW), their stops and the 40 unserved stops nearest to them, build a
:class:`~routing.problem.Problem` of that part alone and run up to 8 of the steps above on
it (``improve``), then splice the best routes back; the whole plan is judged on this model
(``ReadAssignmentFromRoutes``). Why: a repair's descent scans every (stop, position) pair
of the model, 0.1 s on 240 customers, and a 100-node sub-model repairs 3-6 times faster.
Beside focused steps a whole-model repair stops after 1 s (a descent can take seconds on
400 customers).

Randomness comes from ``random.Random(params.seed)`` and every descent stops at a local
optimum, so a seed plus ``solution_limit`` reproduces a run exactly; with the time limit
only, the number of steps depends on the machine.

*``"ils"``: OR-Tools' own iterated local search* (``SolveWithIteratedLocalSearch``, all
in C++): SISR ruin (about ten stops, in strings), local-cheapest-insertion recreate, the
same greedy descent, and simulated annealing from 3x to 0.03x the median stop value
(``_ils_parameters``). Alone it is about as good as ``"lns"``, but not on the same
instances, which is what the portfolio below exploits. It always builds its own first
solution, so a warm start (re-planning) or ``use_guided_local_search = False`` runs the
``"lns"`` path instead.

*Portfolio* (``params.workers > 1``, :mod:`routing.portfolio`): the first worker runs in
this process with ``params.strategy``, the others in child processes with other seeds;
the plan with the best objective wins. Where our compiled descent or focused steps apply
every worker runs the LNS; otherwise, on smaller weeks they alternate ``"lns"`` and
``"ils"``, and when every stop is mandatory they run ``"ils"`` and ``"ortools"`` (the
focused LNS + GLS was measured worse there: 4.56 % against 3.68 % on 18 VRPTW instances,
``benchmarks/README.md``).

*``"ortools"``: the planner before November 2026.* Guided local search until the time
limit, with the path and inactive-node LNS operators switched on (on random tiny
instances they close the last gaps to the brute-force optimum that plain GLS leaves after
half a second). On the public benchmarks it stalls right after its first local optimum
(``benchmarks/README.md``).

With ``use_guided_local_search = False`` both strategies stop at the first local
optimum. ``progress`` is called from ``AddAtSolutionCallback`` on each solution better
than every earlier one (across all steps). ``OPTIMAL`` is only reported when OR-Tools
proves it.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ortools.constraint_solver import (
    pywrapcp,
    routing_enums_pb2,
    routing_heuristic_parameters_pb2,
    routing_ils_pb2,
    routing_parameters_pb2,
)
from ortools.util import optional_boolean_pb2

from routing.descent import FastData, FastModel
from routing.descent import applies as descent_applies
from routing.focus import applies as focus_applies
from routing.focus import choose_focus
from routing.params import FirstSolution, SolveParams, Strategy
from routing.portfolio import solve_portfolio
from routing.precheck import NodeSpec, PastVisit, Preparation, RouteDay, prepare
from routing.problem import Problem, boosted_prize
from routing.recombine import Groups, RoutePool, recombine
from routing.result import Leg, Plan, Route, SolveStatus, Unserved, UnservedReason, Visit
from routing.search import Acceptance, RuinContext, ruin

# Candidate ids in visit order, per route-day key: a plan any model of the same problem reads.
PlanRoutes = dict[tuple[int, int], list[int]]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, kw_only=True)
class SearchProgress:
    """A new best solution: its objective, seconds since the search began, visits served."""

    objective: int
    elapsed_s: float
    served: int


ProgressCallback = Callable[[SearchProgress], None]


def solve(
    problem: Problem,
    params: SolveParams | None = None,
    progress: ProgressCallback | None = None,
    initial: Plan | None = None,
) -> Plan:
    """Plan the week: which candidates, on which route-day, in which order, at what time.

    Never raises for infeasible or contradictory input: the plan's ``status``,
    ``messages`` and ``unserved`` explain it. (Malformed data was already refused by
    :class:`~routing.problem.Problem`.) With ``params.workers > 1`` several searches run
    in parallel (:mod:`routing.portfolio`) and the best plan is returned.
    """
    params = params or SolveParams()
    if params.workers > 1 and problem.candidates:
        return solve_portfolio(problem, params, lambda p: solve_single(problem, p, progress, initial), initial)
    return solve_single(problem, params, progress, initial)


def solve_single(
    problem: Problem,
    params: SolveParams,
    progress: ProgressCallback | None = None,
    initial: Plan | None = None,
) -> Plan:
    """One search in this process (``params.workers`` is ignored).

    ``params.time_limit_s`` covers the whole call: checking the problem and building the
    OR-Tools model (seconds on a thousand communes) come out of the search's budget.
    """
    entered = time.perf_counter()
    frozen, prior = _split_initial(problem, initial)
    prep = prepare(problem, frozen=frozen, prior=prior)
    if not prep.route_days or not prep.nodes:
        status = SolveStatus.INFEASIBLE_INPUT if prep.contradictions else SolveStatus.OPTIMAL
        return Plan(
            status=status,
            routes=(),
            unserved=tuple(sorted(prep.unserved, key=lambda u: u.candidate_id)),
            messages=tuple(prep.messages),
            objective=0 if status is SolveStatus.OPTIMAL else None,
        )
    return _Model(problem, prep, params).run(progress, initial, entered)


def _split_initial(problem: Problem, initial: Plan | None) -> tuple[list[PastVisit], list[PastVisit]]:
    """Visits of the previous plan: (frozen before the re-plan point, the others)."""
    if initial is None:
        return [], []
    frozen: list[PastVisit] = []
    prior: list[PastVisit] = []
    for route in initial.routes:
        for v in route.visits:
            past = PastVisit(candidate_id=v.candidate_id, resource_id=route.resource_id, day=route.day, start=v.start)
            if problem.frozen_before is not None and v.start < problem.frozen_before:
                frozen.append(past)
            else:
                prior.append(past)
    return frozen, prior


def _search_parameters(params: SolveParams) -> routing_parameters_pb2.RoutingSearchParameters:
    """OR-Tools search parameters for ``params``."""
    sp = pywrapcp.DefaultRoutingSearchParameters()
    sp.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, FirstSolution(params.first_solution).value
    )
    if params.use_guided_local_search:
        sp.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    else:
        sp.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    # Large-neighbourhood moves that drop and re-insert whole path segments or inactive
    # nodes: prize collection needs "swap two small stops for one big one" moves that
    # single-node operators only reach through worse intermediate plans.
    sp.local_search_operators.use_inactive_lns = optional_boolean_pb2.BOOL_TRUE
    sp.local_search_operators.use_path_lns = optional_boolean_pb2.BOOL_TRUE
    sp.time_limit.FromMilliseconds(max(1, round(params.time_limit_s * 1000)))
    if params.solution_limit is not None:
        sp.solution_limit = params.solution_limit
    sp.log_search = params.log_search
    return sp


# Operators left out of each LNS repair: the CP-based LNS (about 1.5 s per call), the
# insertion-heuristic LNS operators, each of which re-runs a cheapest-insertion pass (the
# outer ruin-and-recreate does their job; without them a repair is 2-3x cheaper), and the
# chain / shortest-path / Lin-Kernighan / cross moves (another 20 % per repair on 240
# customers, no loss of quality measured).
_HEAVY_OPERATORS = (
    "use_swap_active_chain",
    "use_shortest_path_swap_active",
    "use_shortest_path_two_opt",
    "use_lin_kernighan",
    "use_cross",
    "use_make_chain_inactive",
    "use_inactive_lns",
    "use_path_lns",
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
    "use_relocate_expensive_chain",
)


def _ils_parameters(params: SolveParams, temperature: float) -> routing_parameters_pb2.RoutingSearchParameters:
    """OR-Tools' own iterated local search: SISR ruin, cheapest-insertion recreate, annealing."""
    sp = _repair_parameters(params)
    sp.use_iterated_local_search = True
    ils = sp.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    rr = ils.ruin_recreate_parameters
    del rr.ruin_strategies[:]
    sisr = rr.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = _ILS_SEQUENCE
    sisr.avg_num_removed_visits = _ILS_REMOVED
    sisr.bypass_factor = 0.01
    rr.ruin_composition_strategy = routing_ils_pb2.RuinCompositionStrategy.RUN_ONE_RANDOMLY
    rr.recreate_strategy.heuristic = routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    # Re-insert the most valuable stops first (the default order ignores prizes).
    rr.recreate_strategy.parameters.local_cheapest_insertion.insertion_sorting_properties.append(
        routing_heuristic_parameters_pb2.LocalCheapestInsertionParameters.SORTING_PROPERTY_PENALTY
    )
    ils.improve_perturbed_solution = True
    sa = ils.reference_solution_acceptance_strategy.simulated_annealing
    sa.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
    if temperature > 0:
        sa.automatic_temperatures = False
        sa.initial_temperature = _ILS_START_TEMPERATURE * temperature
        sa.final_temperature = _ILS_FINAL_TEMPERATURE * temperature
    else:
        sa.automatic_temperatures = True
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
    if params.solution_limit is not None:
        sp.solution_limit = params.solution_limit
    return sp


# ILS tuning (TOPTW pr01/pr05/pr13/r102/c104 and pr02/pr04/pr06, 10 s; benchmarks/README.md):
# SISR removes about 10 stops in strings of up to 10 (5 did worse); the annealing
# temperature falls from 3x to 0.03x the median value of a stop (0.3x-1x and OR-Tools'
# automatic temperatures did worse); recreate inserts by decreasing prize (+3 % over the
# default order); without the descent after each recreate it did worse.
_ILS_SEQUENCE = 10
_ILS_REMOVED = 10
_ILS_START_TEMPERATURE = 3.0
_ILS_FINAL_TEMPERATURE = 0.03


def _repair_parameters(params: SolveParams) -> routing_parameters_pb2.RoutingSearchParameters:
    """OR-Tools parameters of one LNS step: greedy descent to a local optimum, light operators."""
    sp = pywrapcp.DefaultRoutingSearchParameters()
    sp.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, FirstSolution(params.first_solution).value
    )
    sp.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    for name in _HEAVY_OPERATORS:
        setattr(sp.local_search_operators, name, optional_boolean_pb2.BOOL_FALSE)
    sp.time_limit.FromMilliseconds(max(1, round(params.time_limit_s * 1000)))
    sp.log_search = params.log_search
    return sp


_MIN_SEARCH_S = 0.05  # the search always gets this much, even when building took the budget

# LNS tuning (measured on TOPTW/VRPTW/rural, see benchmarks/README.md).
_MAX_REMOVE = 12  # a ruin removes 2.._MAX_REMOVE stops
_TEMPERATURE = 0.3  # start temperature, as a fraction of the median value of a stop
_RESTART_AFTER = 400  # steps without a new best before going back to the best plan
_INSERT_TRIES = 2  # unserved stops tried before each repair (x 3 positions each)...
_INSERT_NEAR = 15  # ...among the most valuable of the _INSERT_NEAR closest to the ruin
# Focused steps (routing.focus): on large models this share of the LNS steps re-plans two
# routes and their nearest unserved stops on a small model of their own, with up to
# _FOCUS_STEPS repairs there in at most _FOCUS_MAX_S.
_FOCUS_SHARE = 0.8
# A whole-model repair then stops after _MAX_WHOLE_MS, at the best plan its descent has
# reached: on 400 customers one descent takes 0.5-6 s against 20-300 ms for a focused step
# (VRPTW R1_4_1 / R2_4_1). On TOPTW (at most 288 nodes) it never binds; a cap on the share of
# time spent in whole-model repairs did bind there and cost 0.4 point of gap (pr09 m=1).
_MAX_WHOLE_MS = 1000.0
_FOCUS_STEPS = 8
# Steps of the compiled-descent LNS without a new best before it goes back to the best plan
# (its steps are about 100 times cheaper). Ruins of 2-25 or 2-40 stops instead of 2-12
# measured no better / 1 % worse on 8 TOPTW pairs.
_FAST_RESTART_AFTER = 4000
# Its start temperature (fraction of a stop's median value): with 100 times more steps it
# can wander further. 1.0 against 0.3: +0.9 % of score on the 8 hardest TOPTW pairs (two
# seeds), 2.0 no better than 0.3.
_FAST_TEMPERATURE = 1.0
_FOCUS_MAX_S = 0.5
_RECOMBINE_AT = (0.6, 0.8, 0.95)  # route recombination (routing.recombine) at these shares of the budget...
_RECOMBINE_SHARE = 0.05  # ...each given at most this share of it
_RATIO_SHARE = 0.2  # share of the fast LNS's repairs that first reinsert by value per minute (descent.FastModel)


class _Model:
    """One OR-Tools routing model built from a :class:`Preparation` (see module docstring)."""

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
        self._report: Callable[[int, Callable[[], int]], None] | None = None  # progress, set by run()
        self._nested = False  # a focused step's sub-model: no focused steps of its own
        self.search_notes: list[str] = []  # what the search itself has to tell (plan messages)
        self.fast: FastModel | None = None  # our compiled descent, when it can repair this model (run)
        self.search_budget_s = params.time_limit_s  # what is left once the model is built (run)
        self._build()

    # -- values -------------------------------------------------------------------------

    def _base_value(self, spec: NodeSpec, rd: RouteDay) -> float:
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
            value = self._base_value(spec, self.days[v])
            if spec.prior is not None and spec.prior[0] == v and not spec.frozen:
                value += self.params.move_penalty
            out[v] = round(value * self.params.prize_scale)
        return out

    # -- model --------------------------------------------------------------------------

    def _node_matrix(self, rd: RouteDay, which: str) -> list[list[int]]:
        table = rd.matrix.minutes if which == "minutes" else rd.matrix.metres
        pos = [rd.matrix.position(loc) for loc in self.node_loc]
        return [[table[i][j] for j in pos] for i in pos]

    def _build(self) -> None:
        routing, manager, solver = self.routing, self.manager, self.solver
        n_nodes = len(self.node_loc)
        kinds = {rd.resource.kind for rd in self.days}
        minutes = {
            k: self._node_matrix(next(rd for rd in self.days if rd.resource.kind == k), "minutes") for k in kinds
        }
        metres = {k: self._node_matrix(next(rd for rd in self.days if rd.resource.kind == k), "metres") for k in kinds}
        self.minutes = minutes[self.days[0].resource.kind]

        # Transit matrices: time = service + travel, driving = travel.
        self._minutes_of_kind = minutes
        self._transit_of_kind = {
            k: [[self.service[i] + row[j] if i != j else 0 for j in range(n_nodes)] for i, row in enumerate(minutes[k])]
            for k in kinds
        }
        time_eval = {k: routing.RegisterTransitMatrix(matrix) for k, matrix in self._transit_of_kind.items()}
        drive_eval = {k: routing.RegisterTransitMatrix(minutes[k]) for k in kinds}

        # Hard value H dominates everything else the objective can contain.
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

        # Visit groups: the n-th visits of a commune's candidates (``visit_index`` n), one
        # disjunction each, at most one served; P - value goes on the node's outgoing arcs.
        # The n-th visit of a commune is worth its own value whichever site makes it.
        self.levels = _visit_groups(self.specs)
        fixed = [[0] * n_nodes for _ in self.days]
        self.caps: dict[int, int] = {}
        by_commune: dict[int, list[int]] = {}
        for (commune, _), members in self.levels.items():
            self.caps[commune] = self.caps.get(commune, 0) + 1
            by_commune.setdefault(commune, []).extend(members)
            penalty = max(max(self.values[k].values()) for k in members)
            indices = [manager.NodeToIndex(self.n_places + k) for k in members]
            routing.AddDisjunction(indices, penalty)
            for k in members:
                for v, value in self.values[k].items():
                    fixed[v][self.n_places + k] = penalty - value
        # A commune's stops of one day are on one route-day (a full day there); different
        # route-days serve it on different days.
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

        # Arc costs per vehicle: kilometre cost + fixed cost of leaving the node.
        cost_eval: dict[tuple[object, ...], int] = {}
        for v, rd in enumerate(self.days):
            base_key = (rd.resource.kind, rd.resource.cost_per_km)
            key = base_key + (tuple(fixed[v]),)
            if key not in cost_eval:
                base = km_base[base_key]
                matrix = [[c + f for c in row] if f else row for row, f in zip(base, fixed[v])]
                cost_eval[key] = routing.RegisterTransitMatrix(matrix)
            routing.SetArcCostEvaluatorOfVehicle(cost_eval[key], v)

        # Time dimension in absolute week time (week-minutes for the app).
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

        # Load dimension, only when a load can meet a capacity.
        if any(self.loads) and any(rd.capacity is not None for rd in self.days):
            unlimited = sum(self.loads)
            self.capacities = [rd.capacity if rd.capacity is not None else unlimited for rd in self.days]
            load_eval = routing.RegisterUnaryTransitVector(self.loads)
            routing.AddDimensionWithVehicleCapacity(load_eval, 0, self.capacities, True, "load")

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

    # -- search -------------------------------------------------------------------------

    def _median_value(self) -> float:
        """Median value of a stop worth something: the unit of both searches' temperatures."""
        soft = sorted(v for v in self.soft_values if v > 0)
        return float(soft[len(soft) // 2]) if soft else 0.0

    def _warm_routes(self, initial: Plan) -> list[list[int]]:
        """Routes of ``initial`` as lists of routing indices of this model."""
        return self._index_routes(
            {
                (route.resource_id, route.day): [v.candidate_id for v in sorted(route.visits, key=lambda x: x.start)]
                for route in initial.routes
            }
        )

    def _index_routes(self, by_key: PlanRoutes) -> list[list[int]]:
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

    def run(self, progress: ProgressCallback | None, initial: Plan | None, entered: float) -> Plan:
        """Search (warm-started from ``initial`` when it still fits) and decode the plan."""
        routing = self.routing
        strategy = self.params.strategy
        if strategy is Strategy.ILS and (initial is not None or not self.params.use_guided_local_search):
            # OR-Tools' ILS always builds its own first solution: a warm start (re-planning)
            # or "stop at the first local optimum" goes through the LNS path instead.
            strategy = Strategy.LNS
        lns = strategy is Strategy.LNS
        if lns and self.params.use_guided_local_search and (data := self._fast_data()) is not None:
            self.fast = FastModel(data)
        del self._transit_of_kind, self._km_base, self._minutes_of_kind  # in OR-Tools (and in C) now
        if strategy is Strategy.ILS:
            search = _ils_parameters(self.params, self._median_value())
        else:
            search = _repair_parameters(self.params) if lns else _search_parameters(self.params)
        messages = list(self.prep.messages)
        best: list[int | None] = [None]
        started = [self.solver.WallTime()]
        errors: list[str] = []

        def report(objective: int, served: Callable[[], int]) -> None:
            try:
                if best[0] is not None and objective >= best[0]:
                    return
                best[0] = objective
                if progress is None:
                    return
                progress(
                    SearchProgress(
                        objective=objective,
                        elapsed_s=(self.solver.WallTime() - started[0]) / 1000.0,
                        served=served(),
                    )
                )
            except Exception as exc:  # never let a callback error unwind through C++
                if not errors:
                    errors.append(f"progress callback failed: {exc!r}")

        def on_solution() -> None:
            report(
                routing.CostVar().Value(),
                lambda: sum(
                    1
                    for k in range(len(self.specs))
                    if routing.NextVar(self.manager.NodeToIndex(self.n_places + k)).Value()
                    != self.manager.NodeToIndex(self.n_places + k)
                ),
            )

        self._report = report
        routing.AddAtSolutionCallback(on_solution)
        routing.CloseModelWithParameters(search)
        self.search_budget_s = max(_MIN_SEARCH_S, self.params.time_limit_s - (time.perf_counter() - entered))
        search.time_limit.FromMilliseconds(max(1, round(self.search_budget_s * 1000)))
        solution = None
        started[0] = self.solver.WallTime()
        if initial is not None:
            warm_routes = self._warm_routes(initial)
            if routing.ReadAssignmentFromRoutes(warm_routes, True) is None:
                messages.append("the previous plan no longer fits the problem: searched from scratch")
            else:
                solution = routing.SolveFromAssignmentWithParameters(self._assignment(warm_routes), search)
        if solution is None and strategy is Strategy.ILS:
            solution = routing.SolveWithIteratedLocalSearch(search)
        if solution is None and lns and self.fast is not None:
            # Only the first solution: our descent takes it from there (OR-Tools' own
            # descent took 4.8 s of 30 on 400 customers).
            first = routing_parameters_pb2.RoutingSearchParameters()
            first.CopyFrom(search)
            first.solution_limit = 1
            solution = routing.SolveWithParameters(first)
        if solution is None:
            solution = routing.SolveWithParameters(search)
        optimal = routing.status() == routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL
        if solution is not None and lns and self.params.use_guided_local_search and not optimal:
            solution = self._lns(solution, search, started[0])
        elapsed = (self.solver.WallTime() - started[0]) / 1000.0
        messages.extend(errors)
        messages.extend(self.search_notes)
        if solution is None:
            unserved = list(self.prep.unserved)
            seen = {u.candidate_id for u in unserved}
            for spec in self.specs:
                c = spec.candidate
                if c.id not in seen:
                    seen.add(c.id)
                    unserved.append(
                        Unserved(
                            candidate_id=c.id,
                            reason=UnservedReason.NO_SOLUTION,
                            detail="the search found no plan within its time limit",
                            mandatory=c.mandatory,
                            prize=c.prize,
                        )
                    )
            messages.append("no solution found: try a longer time limit")
            return Plan(
                status=SolveStatus.NO_SOLUTION,
                routes=(),
                unserved=tuple(sorted(unserved, key=lambda u: u.candidate_id)),
                messages=tuple(messages),
                elapsed_s=elapsed,
            )
        return self._decode(solution, messages, elapsed, optimal)

    def _routes_of(self, solution: pywrapcp.Assignment) -> list[list[int]]:
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

    def _ruin_context(self) -> RuinContext:
        # The ruin runs at every LNS step (thousands a second): plain lists, not SWIG calls.
        node = self._node_of()
        minutes = self.minutes
        n_places = self.n_places
        specs = self.specs
        fixed = {  # pinned and frozen stops: the ruin never removes them
            i for i, k in enumerate(node) if k >= n_places and (specs[k - n_places].pinned or specs[k - n_places].frozen)
        }

        def value(index: int, v: int) -> int:
            return self.values[node[index] - n_places].get(v, 0)

        return RuinContext(
            travel=lambda a, b: minutes[node[a]][node[b]],
            value=value,
            service=lambda index: self.service[node[index]],
            removable=lambda index: index not in fixed,
            starts=[self.routing.Start(v) for v in range(len(self.days))],
            ends=[self.routing.End(v) for v in range(len(self.days))],
        )

    def _node_of(self) -> list[int]:
        """Node of every routing index (the index manager's map as a list)."""
        if self._nodes is None:
            manager = self.manager
            self._nodes = [manager.IndexToNode(i) for i in range(manager.GetNumberOfIndices())]
        return self._nodes

    def _assignment(self, routes: Sequence[Sequence[int]]) -> pywrapcp.Assignment:
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

    def _insert_unserved(
        self,
        routes: list[list[int]],
        removed: set[int],
        ctx: RuinContext,
        rng: random.Random,
    ) -> list[list[int]]:
        """Insert a few unserved stops near the ruin (not the removed ones) before the repair.

        OR-Tools' greedy descent takes the first improving move in a fixed order, so left
        alone it tends to put the removed stops back; placing other valuable stops first
        (at their cheapest feasible position by detour, feasibility checked by
        ``ReadAssignmentFromRoutes``) makes each step explore a different plan.
        """
        routing, manager = self.routing, self.manager
        served = {i for r in routes for i in r}
        visits: dict[int, int] = {}
        for i in served:
            commune = self.specs[manager.IndexToNode(i) - self.n_places].candidate.commune_id
            visits[commune] = visits.get(commune, 0) + 1
        anchor = rng.choice(sorted(removed))
        pool = []
        for k, spec in enumerate(self.specs):
            index = manager.NodeToIndex(self.n_places + k)
            commune = spec.candidate.commune_id
            if index in served or index in removed or visits.get(commune, 0) >= self.caps[commune]:
                continue
            pool.append((ctx.travel(anchor, index) + ctx.travel(index, anchor), index, k))
        pool.sort()
        # the most valuable of the unserved stops closest to the ruin, in random order of value
        near = pool[:_INSERT_NEAR]
        near.sort(key=lambda item: -self.soft_values[item[2]] * (0.5 + rng.random()))
        for _, index, k in near[:_INSERT_TRIES]:
            options = []
            for v in self.specs[k].options:
                path = [ctx.starts[v], *routes[v], ctx.ends[v]]
                for i in range(len(path) - 1):
                    a, b = path[i], path[i + 1]
                    options.append((ctx.travel(a, index) + ctx.travel(index, b) - ctx.travel(a, b), v, i))
            options.sort()
            for _, v, i in options[:3]:
                trial = [list(r) for r in routes]
                trial[v].insert(i, index)
                if routing.ReadAssignmentFromRoutes(trial, True) is not None:
                    routes = trial
                    break
        return routes

    def _lns(
        self,
        solution: pywrapcp.Assignment,
        search: routing_parameters_pb2.RoutingSearchParameters,
        started_ms: int,
    ) -> pywrapcp.Assignment:
        """Ruin and recreate until the time or step limit; returns the best assignment.

        Each step removes a few stops of the current plan (:func:`routing.search.ruin`),
        pre-places a few unserved ones (:meth:`_insert_unserved`) and lets OR-Tools'
        greedy descent re-insert, move and swap stops from there until a local optimum
        (``SolveFromAssignmentWithParameters`` on :meth:`_assignment`). The result replaces the current plan
        under :class:`routing.search.Acceptance`; the best plan is kept aside.
        """
        routing, solver = self.routing, self.solver
        if self.fast is not None:
            solution, agreed = self._fast_lns(solution, self.fast, started_ms)
            if agreed:
                return solution
        rng = random.Random(self.params.seed)
        ctx = self._ruin_context()
        budget_ms = self.search_budget_s * 1000.0
        limit = self.params.solution_limit
        acceptance = Acceptance(_TEMPERATURE * self._median_value(), rng)
        best = solver.Assignment(solution)
        best_obj = current_obj = solution.ObjectiveValue()
        current = self._routes_of(solution)
        step = since_best = 0
        focus = self._focus_eligible()
        while limit is None or step < limit:
            used = solver.WallTime() - started_ms
            left = budget_ms - used
            if left < 5:
                break
            step += 1
            if focus and rng.random() < _FOCUS_SHARE:
                repaired = self._focus_step(current, ctx, rng, left)
            else:
                _, removed = ruin(current, ctx, rng, _MAX_REMOVE)
                if not removed:
                    break
                kept = [[i for i in r if i not in removed] for r in current]
                if _INSERT_TRIES:
                    kept = self._insert_unserved(kept, removed, ctx, rng)
                partial = self._assignment(kept)
                search.time_limit.FromMilliseconds(max(1, int(min(left, _MAX_WHOLE_MS) if focus else left)))
                repaired = routing.SolveFromAssignmentWithParameters(partial, search)
            if repaired is None:
                continue
            objective = repaired.ObjectiveValue()
            since_best += 1
            if objective < best_obj:  # a copy: the solver reuses the assignment it returns
                best, best_obj, since_best = solver.Assignment(repaired), objective, 0
                if self._report is not None:
                    snapshot = self._routes_of(best)
                    self._report(objective, lambda: sum(len(r) for r in snapshot))
            progress = step / limit if limit is not None else used / budget_ms
            if acceptance.accept(objective, current_obj, progress):
                current, current_obj = self._routes_of(repaired), objective
            if since_best >= _RESTART_AFTER:
                current, current_obj, since_best = self._routes_of(best), best_obj, 0
        return best

    def _fast_data(self) -> FastData | None:
        """This model as plain data for :mod:`routing.descent`, or None where it cannot express it."""
        if self._nested or not descent_applies(self.problem, replanning=self._replanning()):
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

    def _fast_lns(
        self, solution: pywrapcp.Assignment, fast: FastModel, started_ms: int
    ) -> tuple[pywrapcp.Assignment, bool]:
        """The LNS with :mod:`routing.descent` as the repair; (best assignment, models agreed).

        Same ruin and acceptance as :meth:`_lns` (warmer: ``_FAST_TEMPERATURE``), but the
        repair is our compiled descent on the whole model (no focused steps: a descent
        costs about half a millisecond, from the routes the ruin touched). Where stops are
        chosen, a share ``_RATIO_SHARE`` of the repairs first reinserts the ruined region by
        value per minute of route time (the TOPTW recreate), the rest by the descent's
        random-order insertions: the mix beat either alone (``benchmarks/README.md``, eighth
        round). Every new best plan is read back by OR-Tools, which must accept it with the objective our
        search computed; if it does not, the search stops here with ``agreed`` False and
        the caller goes on with OR-Tools' own descent.
        """
        routing, solver = self.routing, self.solver
        node_of = self._node_of()
        index_of = [0] * len(node_of)  # customers only: a place has one index per route end
        for i in range(routing.Size()):
            index_of[node_of[i]] = i
        rng = random.Random(self.params.seed)
        ctx = self._ruin_context()
        budget_ms = self.search_budget_s * 1000.0
        limit = self.params.solution_limit
        acceptance = Acceptance(_FAST_TEMPERATURE * self._median_value(), rng)
        best = solver.Assignment(solution)
        best_obj = current_obj = solution.ObjectiveValue()
        current = self._routes_of(solution)
        own, feasible = fast.evaluate([[node_of[i] for i in r] for r in current])
        if not feasible:  # our model is stricter on lunch before a late start, say: OR-Tools goes on
            self.search_notes.append("compiled descent: the first plan is outside its model; OR-Tools' descent took over")
            return best, False
        offset = best_obj - own
        step = since_best = 0
        # Whether current / best are our descent's local optima (OR-Tools' first plan is not):
        # then a descent after a ruin need only start from what the ruin touched.
        current_local = best_local = False
        best_nodes = [[node_of[i] for i in r] for r in current]
        # Route recombination pays where stops are chosen (prize-collecting weeks, TOPTW);
        # when every stop is mandatory (VRPTW) it found only metres at 5 % of the budget each.
        choosing = not all(c.mandatory for c in self.problem.candidates)
        pool = RoutePool(fast.profile) if fast.m > 1 and choosing else None
        ratio_share = _RATIO_SHARE if choosing else 0.0
        marks = list(_RECOMBINE_AT) if pool is not None else []
        groups = Groups(group=fast.group, cap=fast.group_cap, day=fast.day, commune=fast.commune)
        while limit is None or step < limit:
            used = solver.WallTime() - started_ms
            if step and budget_ms - used < 5:  # the first descent always runs (a few ms)
                break
            step += 1
            progress = step / limit if limit is not None else used / budget_ms
            removed: set[int] = set()
            mixed = None
            if marks and progress >= marks[0]:
                marks.pop(0)
                share = min(_RECOMBINE_SHARE * self.search_budget_s, 0.5 * (budget_ms - used) / 1000.0)
                mixed = recombine(pool, fast.route_costs, groups, best_nodes, time_limit_s=share, seed=step)
            if mixed is not None:
                kept, touched, removed_nodes = mixed[0], None, []
            else:
                if step > 1:  # the first step descends from OR-Tools' first solution as it is
                    _, removed = ruin(current, ctx, rng, _MAX_REMOVE)
                    if not removed:
                        break
                kept = [[node_of[i] for i in r if i not in removed] for r in current]
                touched = [v for v, r in enumerate(current) if len(r) != len(kept[v])] if current_local else None
                removed_nodes = [node_of[i] for i in removed]
            ratio = bool(removed_nodes) and rng.random() < ratio_share
            routes, own, feasible = fast.descend(kept, rng.getrandbits(63), touched, removed_nodes, ratio)
            if not feasible:
                continue
            if pool is not None:
                pool.add(routes)
            objective = own + offset
            repaired = [[index_of[i] for i in r] for r in routes]
            since_best += 1
            if objective < best_obj:
                check = routing.ReadAssignmentFromRoutes(repaired, True)
                if check is None or check.ObjectiveValue() != objective:
                    self.search_notes.append(
                        "compiled descent disagreed with OR-Tools "
                        f"({'infeasible' if check is None else check.ObjectiveValue()} against {objective}): "
                        "OR-Tools' descent took over"
                    )
                    return best, False
                best, best_obj, best_local, since_best = solver.Assignment(check), objective, True, 0
                best_nodes = routes
                if self._report is not None:
                    self._report(objective, lambda: sum(len(r) for r in repaired))
            if mixed is not None or acceptance.accept(objective, current_obj, progress):
                current, current_obj, current_local = repaired, objective, True
            if since_best >= _FAST_RESTART_AFTER:
                current, current_obj, current_local, since_best = self._routes_of(best), best_obj, best_local, 0
        return best, True

    def _plan_routes(self, routes: Sequence[Sequence[int]]) -> PlanRoutes:
        """Candidate ids per route-day key: a plan any model of the same problem can read."""
        node = self.manager.IndexToNode
        return {
            rd.key: [self.specs[node(i) - self.n_places].candidate.id for i in r] for rd, r in zip(self.days, routes)
        }

    def _focus_eligible(self) -> bool:
        """Focused steps (:func:`routing.focus.applies`), never inside a focused step's own model."""
        return not self._nested and focus_applies(self.problem, len(self.specs), replanning=self._replanning())

    def _replanning(self) -> bool:
        """Stops of a previous plan carry move penalties or are frozen (warm-started re-plan)."""
        return any(s.prior is not None or s.frozen for s in self.specs)

    def _focus_step(
        self, current: list[list[int]], ctx: RuinContext, rng: random.Random, left_ms: float
    ) -> pywrapcp.Assignment | None:
        """Re-plan a few routes on a sub-model (:mod:`routing.focus`) and splice them back.

        Returns the whole plan as an assignment of this model (its objective is the whole
        plan's), or None when nothing changed. The sub-model's objective counts exactly the
        stops and kilometres that can change, so its improvement is the plan's.
        """
        manager, n_places = self.manager, self.n_places
        served = {i for r in current for i in r}
        unserved = [
            index
            for k in range(len(self.specs))
            if (index := manager.NodeToIndex(n_places + k)) not in served
        ]

        def spec_of(index: int) -> NodeSpec:
            return self.specs[manager.IndexToNode(index) - n_places]

        focus = choose_focus(
            current,
            unserved,
            ctx.travel,
            allowed=lambda index, v: v in spec_of(index).options,
            group=lambda index: spec_of(index).candidate.commune_id,
            rng=rng,
        )
        keys = {self.days[v].key for v in focus.routes}
        start = {self.days[v].key: [spec_of(i).candidate.id for i in current[v]] for v in focus.routes}
        ids = {c for r in start.values() for c in r} | {spec_of(u).candidate.id for u in focus.unserved}
        if not ids:
            return None
        shifts = tuple(s for s in self.problem.shifts if s.key in keys)
        resource_ids = {s.resource_id for s in shifts}
        resources = tuple(r for r in self.problem.resources if r.id in resource_ids)
        sub = Problem(
            resources=resources,
            shifts=shifts,
            candidates=tuple(c for c in self.problem.candidates if c.id in ids),
            matrices={r.kind: self.problem.matrix(r.kind) for r in resources},
            day_length=self.problem.day_length,
        )
        budget = min(_FOCUS_MAX_S, left_ms / 1000.0)
        params = replace(
            self.params, time_limit_s=budget, solution_limit=_FOCUS_STEPS, seed=rng.randrange(1, 2**31), workers=1
        )
        sub_model = _Model(sub, prepare(sub), params)
        sub_model._nested = True
        improved = sub_model.improve(start)
        if improved is None or improved == start:
            return None
        plan = self._plan_routes(current)
        plan.update(improved)
        return self.routing.ReadAssignmentFromRoutes(self._index_routes(plan), True)

    def improve(self, start: PlanRoutes) -> PlanRoutes | None:
        """Best routes found by the LNS from ``start`` (candidate ids per route-day key) within the params' limits.

        Used on the small models of focused steps; None when ``start`` does not fit.
        """
        routing = self.routing
        search = _repair_parameters(self.params)
        routing.CloseModelWithParameters(search)
        routes = self._index_routes(start)
        if routing.ReadAssignmentFromRoutes(routes, True) is None:
            return None
        started = self.solver.WallTime()
        search.time_limit.FromMilliseconds(max(1, round(self.search_budget_s * 1000)))
        solution = routing.SolveFromAssignmentWithParameters(self._assignment(routes), search)
        if solution is None:
            return None
        return self._plan_routes(self._routes_of(self._lns(solution, search, started)))

    # -- decoding -----------------------------------------------------------------------

    def _decode(self, solution: pywrapcp.Assignment, messages: list[str], elapsed: float, optimal: bool) -> Plan:
        routing, manager = self.routing, self.manager
        routes: list[Route] = []
        served_nodes: set[int] = set()
        route_load = [0] * len(self.days)
        for v, rd in enumerate(self.days):
            index = routing.Start(v)
            stops: list[tuple[int, int]] = []  # (spec k, start)
            index = solution.Value(routing.NextVar(index))
            while not routing.IsEnd(index):
                k = manager.IndexToNode(index) - self.n_places
                stops.append((k, solution.Value(self.time.CumulVar(index))))
                served_nodes.add(k)
                route_load[v] += self.loads[self.n_places + k]
                index = solution.Value(routing.NextVar(index))
            if not stops:
                continue
            lunch_hint = solution.StartValue(self.breaks[v]) if v in self.breaks else None
            routes.append(self._route(v, rd, stops, lunch_hint, messages))

        unserved = list(self.prep.unserved)
        served_candidates = {self.specs[k].candidate.id for k in served_nodes}
        commune_visits: dict[int, int] = {}
        commune_days: dict[int, dict[int, int]] = {}  # commune -> day -> route-day serving it
        for v, rd in enumerate(self.days):
            for k in self._served_on(solution, v):
                commune = self.specs[k].candidate.commune_id
                commune_visits[commune] = commune_visits.get(commune, 0) + 1
                commune_days.setdefault(commune, {})[rd.day] = v
        reported: set[int] = set()
        hard_missed = False
        specs_of: dict[int, list[NodeSpec]] = {}
        for spec in self.specs:
            specs_of.setdefault(spec.candidate.id, []).append(spec)
        for k, spec in enumerate(self.specs):
            c = spec.candidate
            if k in served_nodes:
                continue
            if spec.hard:
                hard_missed = True
                what = "frozen stop" if spec.frozen else "pin" if spec.pinned else "mandatory visit"
                messages.append(f"candidate {c.id}: {what} could not be kept together with the other constraints")
            if c.id in served_candidates or c.id in reported:
                continue
            reported.add(c.id)
            if any(s.pinned or s.frozen for s in specs_of[c.id]):
                reason = UnservedReason.INFEASIBLE_PIN
                detail = "the pin conflicts with other pins, frozen stops or route limits"
            elif spec.mandatory:
                reason = UnservedReason.NO_ROOM
                detail = "mandatory, and could be served alone, but not together with the pinned and mandatory stops"
            elif commune_visits.get(c.commune_id, 0) >= self.caps[c.commune_id]:
                reason = UnservedReason.COMMUNE_VISITED
                detail = f"commune {c.commune_id} already gets its stop(s) this week from another candidate"
            elif all(
                commune_days.get(c.commune_id, {}).get(self.days[v].day, v) != v for v in spec.options
            ):
                reason = UnservedReason.COMMUNE_VISITED
                detail = (
                    f"commune {c.commune_id} already gets a stop from another route on each day this one "
                    "could serve it (one route a day per commune)"
                )
            elif (
                self.capacities is not None
                and c.load > 0
                and all(route_load[v] + c.load > self.capacities[v] for v in spec.options)
            ):
                reason = UnservedReason.OVER_CAPACITY
                detail = (
                    f"its load {c.load} does not fit what is left of the capacity of any route-day it "
                    "could use; the stops served there are worth more"
                )
            else:
                reason = UnservedReason.NOT_WORTH_IT
                detail = "could be served, but the stops that were served are worth more"
            unserved.append(
                Unserved(candidate_id=c.id, reason=reason, detail=detail, mandatory=c.mandatory, prize=c.prize)
            )

        if self.prep.contradictions or hard_missed:
            status = SolveStatus.INFEASIBLE_INPUT
        elif optimal:
            status = SolveStatus.OPTIMAL
        else:
            status = SolveStatus.FEASIBLE
        return Plan(
            status=status,
            routes=tuple(routes),
            unserved=tuple(sorted(unserved, key=lambda u: u.candidate_id)),
            messages=tuple(messages),
            objective=solution.ObjectiveValue(),
            elapsed_s=elapsed,
        )

    def _served_on(self, solution: pywrapcp.Assignment, v: int) -> list[int]:
        """Spec positions served by route-day ``v`` in ``solution``, in order."""
        routing, out = self.routing, []
        index = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            out.append(self.manager.IndexToNode(index) - self.n_places)
            index = solution.Value(routing.NextVar(index))
        return out

    def _route(
        self, v: int, rd: RouteDay, stops: Sequence[tuple[int, int]], lunch_hint: int | None, messages: list[str]
    ) -> Route:
        specs = [self.specs[k] for k, _ in stops]
        services = [
            (s.candidate.site.location.id, start, start + s.candidate.duration) for s, (_, start) in zip(specs, stops)
        ]
        legs, lunch = _timetable(rd, services, lunch_hint)
        if legs is None:
            messages.append(f"{rd.label()}: could not lay out the lunch break around the stops (please report)")
            legs, lunch = _timetable(rd, services, None, ignore_lunch=True)
            assert legs is not None
        visits = []
        for leg, spec, (loc, start, end) in zip(legs, specs, services):
            visits.append(
                Visit(
                    candidate_id=spec.candidate.id,
                    site_id=spec.candidate.site.id,
                    commune_id=spec.candidate.commune_id,
                    location_id=loc,
                    visit_index=spec.visit_index,
                    arrive=leg.arrive,
                    start=start,
                    end=end,
                    prize=round(self._base_value(spec, rd), 6),
                    pinned=spec.pinned,
                    frozen=spec.frozen,
                )
            )
        metres = sum(leg.metres for leg in legs)
        return Route(
            resource_id=rd.resource.id,
            day=rd.day,
            kind=rd.resource.kind.value,
            crew_ids=rd.crew_ids,
            start_location_id=rd.resource.start.id,
            end_location_id=rd.resource.end_location.id,
            start=legs[0].depart,
            end=legs[-1].arrive,
            visits=tuple(visits),
            legs=tuple(legs),
            lunch=lunch,
            metres=metres,
            driving_min=sum(leg.drive_min for leg in legs),
            cost=(metres * rd.resource.cost_per_km + 500) // 1000,
            load=sum(s.candidate.load for s in specs),
        )


def _visit_groups(specs: Sequence[NodeSpec]) -> dict[tuple[int, int], list[int]]:
    """Spec positions by (commune, visit_index): the candidates' n-th visits of each commune."""
    levels: dict[tuple[int, int], list[int]] = {}
    for k, spec in enumerate(specs):
        levels.setdefault((spec.candidate.commune_id, spec.visit_index), []).append(k)
    return levels


def _timetable(
    rd: RouteDay,
    services: Sequence[tuple[int, int, int]],
    lunch_hint: int | None,
    *,
    ignore_lunch: bool = False,
) -> tuple[list[Leg] | None, tuple[int, int] | None]:
    """Concrete legs and lunch for fixed service times ``(location, start, end)``.

    The solver guarantees that a break of the right length fits somewhere; this picks a
    break start (the solver's first, then the edges of every gap) and places each drive:
    the first leg leaves as late as possible (no idle crew at the first stop), the others
    leave right after the previous stop; when the break falls in a gap the drive goes
    before it, after it, or, if neither fits, around it (lunch on the way).
    """
    s0, s1 = rd.window.start, rd.window.end
    locs = [rd.resource.start.id] + [loc for loc, _, _ in services] + [rd.resource.end_location.id]
    drive = [rd.matrix.minutes_between(a, b) for a, b in zip(locs, locs[1:])]
    dist = [rd.matrix.metres_between(a, b) for a, b in zip(locs, locs[1:])]
    lows = [s0] + [end for _, _, end in services]
    highs = [start for _, start, _ in services] + [s1]
    last = len(drive) - 1

    def plain(k: int) -> tuple[int, int]:
        depart = highs[k] - drive[k] if k == 0 else lows[k]
        return depart, depart + drive[k]

    def legs_for(b: int | None, length: int) -> list[tuple[int, int]] | None:
        out = []
        for k in range(len(drive)):
            lo, hi, t = lows[k], highs[k], drive[k]
            if b is None:
                out.append(plain(k))
                continue
            e = b + length
            if b >= lo and e <= hi:  # the break is in this gap
                if hi - lo < t + length:
                    return None
                if k == 0 and hi - e >= t:
                    depart = hi - t
                elif k == 0 and b - t >= lo:
                    depart = b - t
                elif b - lo >= t:
                    depart = lo
                elif hi - e >= t:
                    depart = e
                else:  # drive around the break: leave now, lunch on the way
                    out.append((lo, lo + t + length))
                    continue
                out.append((depart, depart + t))
            elif k == 0 and b < lo:  # (partly) before the shift: leave after it
                depart = hi - t
                if depart < max(lo, e):
                    return None
                out.append((depart, hi))
            elif k == last and e > hi:  # (partly) after the shift: be back before it
                if lo + t > b:
                    return None
                out.append((lo, lo + t))
            else:
                out.append(plain(k))
        return out

    brk = None if ignore_lunch else rd.shift.lunch
    lunch: tuple[int, int] | None = None
    chosen: list[tuple[int, int]] | None = None
    if brk is None:
        chosen = legs_for(None, 0)
    else:
        offset = rd.offset
        bs, bl = offset + brk.window.start, offset + brk.latest_start
        length = brk.duration
        options: list[int] = [] if lunch_hint is None else [lunch_hint]
        for k in range(len(drive)):
            options += [lows[k], lows[k] + drive[k], highs[k] - length, highs[k] - length - drive[k]]
        options += [bs, bl]
        seen: set[int] = set()
        for b in options:
            b = min(max(b, bs), bl)
            if b in seen:
                continue
            seen.add(b)
            if any(b < end and b + length > start for _, start, end in services):
                continue
            chosen = legs_for(b, length)
            if chosen is not None:
                lunch = (b, b + length)
                break
        if chosen is None:
            return None, None
    assert chosen is not None
    legs = [
        Leg(from_location_id=a, to_location_id=b, depart=d, arrive=r, drive_min=t, metres=m)
        for a, b, (d, r), t, m in zip(locs, locs[1:], chosen, drive, dist)
    ]
    return legs, lunch
