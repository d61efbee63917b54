"""Weekly tour planning as one OR-Tools routing model (prize-collecting VRP with time windows).

``solve(problem, params, progress=None, initial=None) -> Plan`` is the only entry point.
The planner is cut along its seams, one idea per module; these five are the only modules
that import OR-Tools' routing library:

* :mod:`routing.model`: the model, built once per search: one vehicle per route-day, one
  node per possible visit, a disjunction per visit group whose penalty makes serving a stop
  save its value, the commune one-route-a-day rule, opening windows as cumul domains, the
  time, driving and load dimensions, lunch breaks, pins and re-planning bonuses; and the
  conversions between its routes, assignments and plans;
* :mod:`routing.lns`: the default search, ruin and recreate around that model, repaired by
  our compiled descent (:mod:`routing.descent`) or by OR-Tools' own;
* :mod:`routing.focus`: focused steps of that LNS (a few routes re-planned on a sub-model);
* :mod:`routing.decode`: the plan read back from a solution (timetable with the lunch,
  unserved candidates and why, status);
* this module: the entry points, the choice of search, its OR-Tools parameters and the
  progress reports.

Before any of it :mod:`routing.precheck` works out, in plain Python, which route-days and
start times each candidate may use, and explains the candidates no route-day can take.

Search
======

Three strategies (``params.strategy``), all on the one model, built once; the build counts
against ``params.time_limit_s`` (:func:`solve_single`).

*``"lns"`` (default): ruin and recreate around OR-Tools* (:mod:`routing.lns`). OR-Tools
builds the first plan; then each step removes a few stops and repairs the plan, with our
compiled descent wherever :func:`routing.descent.applies` (everything but pins, a re-plan
point and re-planning penalties), else with OR-Tools' greedy descent (and, on large models,
focused steps); every new best plan is judged by OR-Tools.

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
proves it. A seed plus ``params.solution_limit`` reproduces a run exactly
(:mod:`routing.lns`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ortools.constraint_solver import (
    pywrapcp,
    routing_enums_pb2,
    routing_heuristic_parameters_pb2,
    routing_ils_pb2,
    routing_parameters_pb2,
)
from ortools.util import optional_boolean_pb2

from routing.decode import decode, no_solution
from routing.descent import FastModel
from routing.focus import eligible as focus_eligible
from routing.focus import focus_step
from routing.lns import Lns, repair_parameters
from routing.model import Model
from routing.params import FirstSolution, SolveParams, Strategy
from routing.portfolio import solve_portfolio
from routing.precheck import PastVisit, prepare
from routing.problem import Problem
from routing.result import Plan, SolveStatus


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
    return run(Model(problem, prep, params), progress, initial, entered)


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


def _ils_parameters(params: SolveParams, temperature: float) -> routing_parameters_pb2.RoutingSearchParameters:
    """OR-Tools' own iterated local search: SISR ruin, cheapest-insertion recreate, annealing."""
    sp = repair_parameters(params)
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


_MIN_SEARCH_S = 0.05  # the search always gets this much, even when building took the budget
_FIRST_SOLUTION_SHARE = 0.15  # of the search budget, for OR-Tools' first plan before the LNS


def run(model: Model, progress: ProgressCallback | None, initial: Plan | None, entered: float) -> Plan:
    """Search ``model`` (warm-started from ``initial`` when it still fits) and decode the plan.

    ``entered``: ``time.perf_counter()`` when the call began; the search gets what is left
    of ``params.time_limit_s``.
    """
    params = model.params
    routing = model.routing
    strategy = params.strategy
    if strategy is Strategy.ILS and (initial is not None or not params.use_guided_local_search):
        # OR-Tools' ILS always builds its own first solution: a warm start (re-planning)
        # or "stop at the first local optimum" goes through the LNS path instead.
        strategy = Strategy.LNS
    lns = strategy is Strategy.LNS
    fast: FastModel | None = None
    if lns and params.use_guided_local_search and (data := model.fast_data()) is not None:
        fast = FastModel(data)
    model.drop_build_tables()  # in OR-Tools (and in C) now
    if strategy is Strategy.ILS:
        search = _ils_parameters(params, model.median_value())
    else:
        search = repair_parameters(params) if lns else _search_parameters(params)
    messages = list(model.prep.messages)
    best: list[int | None] = [None]
    started = [model.solver.WallTime()]
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
                    elapsed_s=(model.solver.WallTime() - started[0]) / 1000.0,
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
                for k in range(len(model.specs))
                if routing.NextVar(model.manager.NodeToIndex(model.n_places + k)).Value()
                != model.manager.NodeToIndex(model.n_places + k)
            ),
        )

    routing.AddAtSolutionCallback(on_solution)
    routing.CloseModelWithParameters(search)
    budget_s = max(_MIN_SEARCH_S, params.time_limit_s - (time.perf_counter() - entered))
    search.time_limit.FromMilliseconds(max(1, round(budget_s * 1000)))
    solution = None
    started[0] = model.solver.WallTime()
    if initial is not None:
        warm_routes = model.warm_routes(initial)
        if routing.ReadAssignmentFromRoutes(warm_routes, True) is None:
            messages.append("the previous plan no longer fits the problem: searched from scratch")
        else:
            solution = routing.SolveFromAssignmentWithParameters(model.assignment(warm_routes), search)
    if solution is None and strategy is Strategy.ILS:
        solution = routing.SolveWithIteratedLocalSearch(search)
    if solution is None and lns and fast is not None:
        # Only the first solution: our descent takes it from there (OR-Tools' own
        # descent took 4.8 s of 30 on 400 customers).
        first = routing_parameters_pb2.RoutingSearchParameters()
        first.CopyFrom(search)
        first.solution_limit = 1
        # OR-Tools' first plan is a head start, not a need: on a week where many communes
        # offer full days (pairwise commune-day constraints) it took 28 s of 30 on 250
        # communes. Past its share of the budget our descent starts from the empty plan.
        first.time_limit.FromMilliseconds(max(1, round(budget_s * _FIRST_SOLUTION_SHARE * 1000)))
        solution = routing.SolveWithParameters(first)
        if solution is None:
            empty: list[list[int]] = [[] for _ in model.days]
            if routing.ReadAssignmentFromRoutes(empty, True) is not None:
                solution = model.assignment(empty)
                messages.append("first solution out of time: the search started from the empty plan")
    if solution is None:
        solution = routing.SolveWithParameters(search)
    optimal = routing.status() == routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL
    notes: list[str] = []
    if solution is not None and lns and params.use_guided_local_search and not optimal:
        focus = partial(focus_step, model) if focus_eligible(model) else None
        search_loop = Lns(model, budget_s, fast=fast, focus=focus, report=report)
        solution = search_loop.run(solution, search, started[0])
        notes = search_loop.notes
    elapsed = (model.solver.WallTime() - started[0]) / 1000.0
    messages.extend(errors)
    messages.extend(notes)
    if solution is None:
        return no_solution(model, messages, elapsed)
    return decode(model, solution, messages, elapsed, optimal)
