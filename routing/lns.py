"""Ruin and recreate around the OR-Tools model: the default search (``params.strategy = "lns"``).

:mod:`routing.solver` builds the first solution with OR-Tools and hands it to
:class:`Lns`. Two repairs exist; the compiled one is used wherever
:func:`routing.descent.applies` (everything but pins, a re-plan point and re-planning
penalties).

*With our compiled descent* (:meth:`Lns.run` -> ``_fast_run``, :mod:`routing.descent`):
OR-Tools builds the first solution (``params.first_solution``, parallel cheapest insertion
by default) and stops there; then each step ruins the current plan as in 1. below and our
granular local search (insert, replace, remove, relocate, swap, 2-opt, or-opt of 2-3
stops, 2-opt* on each stop's 30 nearest stops, O(1) time-window checks) repairs it on the
whole model in about half a millisecond, 100 times faster than OR-Tools' descent, trying
only moves that involve the routes the ruin touched or what changed since; acceptance as
in 4., warmer (start temperature one median stop value; back to the best plan after 4 000
steps without a new best). Every new best plan is read back by OR-Tools
(``ReadAssignmentFromRoutes``), which must accept it with the same objective; if it ever
does not, the step loop below takes over for the rest of the budget, and the plan says so.
On 8 TOPTW pairs (10 s, one core) the sum of scores went from 8 527 to 9 024.
Where stops are chosen (not all mandatory) and there are several route-days, every plan
the descent returns also feeds a pool of routes, and at 60 %, 80 % and 95 % of the budget
:mod:`routing.recombine` picks with CP-SAT the best plan made of pooled routes that fit
together (one per route-day, each stop once, commune caps); when it beats the best plan,
the search goes on from it (TOPTW pr20 m=2: 1 201 -> 1 220 on average over four seeds).

*With OR-Tools' descent* (:meth:`Lns.run`): the first solution is followed by OR-Tools'
greedy descent to a local optimum, with a curated operator set (:func:`repair_parameters`:
no CP-based LNS, no cheapest-insertion LNS, no chain / shortest-path / Lin-Kernighan /
cross moves, which cost 2-3x per descent without improving the outer loop). Then, until
the time limit (or ``params.solution_limit`` steps):

1. *ruin* (:mod:`routing.search`): remove 2-12 stops of the current plan, by one of five
   operators drawn at random: the stops closest to a random stop (related, Shaw/SISR),
   strings of consecutive stops on the routes around a random stop, random stops, most
   of one route-day, or the stops worth least per minute they cost (randomised). Pins and
   frozen stops are never removed;
2. *perturb* (:func:`insert_unserved`): try to place up to two of the most valuable
   unserved stops near the ruin (not the removed ones) at their cheapest feasible positions
   (feasibility by ``ReadAssignmentFromRoutes``). Without this the descent, which takes the
   first improving move in a fixed order, mostly puts the removed stops back;
3. *recreate*: ``SolveFromAssignmentWithParameters`` from that partial plan (a fresh
   assignment of the next variables, see :meth:`routing.model.Model.assignment`) with the
   greedy descent: OR-Tools inserts, relocates and swaps stops until a local optimum. Every
   constraint of the model (windows, lunch, driving, days of second visits) is enforced by
   OR-Tools itself, so every plan the loop sees is feasible;
4. *accept* (:class:`routing.search.Acceptance`): a plan at least as good always, a worse
   one with probability ``exp(-delta / T)``, ``T`` falling linearly from 30 % of a median
   stop's value to 0 over the budget; after 400 steps without a new best the search goes
   back to the best plan.

On large models, 80 % of these steps are *focused steps* instead (:mod:`routing.focus`,
given to :class:`Lns` as ``focus``); beside them a whole-model repair stops after 1 s (a
descent can take seconds on 400 customers).

Randomness comes from ``random.Random(params.seed)`` and every descent stops at a local
optimum, so a seed plus ``solution_limit`` reproduces a run exactly; with the time limit
only, the number of steps depends on the machine.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_parameters_pb2
from ortools.util import optional_boolean_pb2

from routing.descent import FastModel
from routing.model import Model
from routing.params import FirstSolution, SolveParams
from routing.recombine import Groups, RoutePool, recombine
from routing.search import Acceptance, RuinContext, ruin

# LNS tuning (measured on TOPTW/VRPTW/rural, see benchmarks/README.md).
_MAX_REMOVE = 12  # a ruin removes 2.._MAX_REMOVE stops
_TEMPERATURE = 0.3  # start temperature, as a fraction of the median value of a stop
_RESTART_AFTER = 400  # steps without a new best before going back to the best plan
_INSERT_TRIES = 2  # unserved stops tried before each repair (x 3 positions each)...
_INSERT_NEAR = 15  # ...among the most valuable of the _INSERT_NEAR closest to the ruin
# Focused steps (routing.focus): on large models this share of the LNS steps re-plans two
# routes and their nearest unserved stops on a small model of their own.
_FOCUS_SHARE = 0.8
# A whole-model repair then stops after _MAX_WHOLE_MS, at the best plan its descent has
# reached: on 400 customers one descent takes 0.5-6 s against 20-300 ms for a focused step
# (VRPTW R1_4_1 / R2_4_1). On TOPTW (at most 288 nodes) it never binds; a cap on the share of
# time spent in whole-model repairs did bind there and cost 0.4 point of gap (pr09 m=1).
_MAX_WHOLE_MS = 1000.0
# Steps of the compiled-descent LNS without a new best before it goes back to the best plan
# (its steps are about 100 times cheaper). Ruins of 2-25 or 2-40 stops instead of 2-12
# measured no better / 1 % worse on 8 TOPTW pairs.
_FAST_RESTART_AFTER = 4000
# Its start temperature (fraction of a stop's median value): with 100 times more steps it
# can wander further. 1.0 against 0.3: +0.9 % of score on the 8 hardest TOPTW pairs (two
# seeds), 2.0 no better than 0.3.
_FAST_TEMPERATURE = 1.0
_RECOMBINE_AT = (0.6, 0.8, 0.95)  # route recombination (routing.recombine) at these shares of the budget...
_RECOMBINE_SHARE = 0.05  # ...each given at most this share of it
_RATIO_SHARE = 0.2  # share of the fast LNS's repairs that first reinsert by value per minute (descent.FastModel)

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

# A new best objective and how to count its served stops (only asked when someone listens).
Report = Callable[[int, Callable[[], int]], None]
# A focused step (routing.focus.focus_step on this model): current routes, ruin context, rng,
# milliseconds left -> the whole plan as an assignment, or None when nothing changed.
FocusStep = Callable[[list[list[int]], RuinContext, random.Random, float], pywrapcp.Assignment | None]


def repair_parameters(params: SolveParams) -> routing_parameters_pb2.RoutingSearchParameters:
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


def ruin_context(model: Model) -> RuinContext:
    """What :func:`routing.search.ruin` needs to know of ``model``, on routing indices."""
    # The ruin runs at every LNS step (thousands a second): plain lists, not SWIG calls.
    node = model.node_of()
    minutes = model.minutes
    n_places = model.n_places
    specs = model.specs
    fixed = {  # pinned and frozen stops: the ruin never removes them
        i for i, k in enumerate(node) if k >= n_places and (specs[k - n_places].pinned or specs[k - n_places].frozen)
    }

    def value(index: int, v: int) -> int:
        return model.values[node[index] - n_places].get(v, 0)

    return RuinContext(
        travel=lambda a, b: minutes[node[a]][node[b]],
        value=value,
        service=lambda index: model.service[node[index]],
        removable=lambda index: index not in fixed,
        starts=[model.routing.Start(v) for v in range(len(model.days))],
        ends=[model.routing.End(v) for v in range(len(model.days))],
    )


def insert_unserved(
    model: Model,
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
    routing, manager = model.routing, model.manager
    served = {i for r in routes for i in r}
    visits: dict[int, int] = {}
    for i in served:
        commune = model.specs[manager.IndexToNode(i) - model.n_places].candidate.commune_id
        visits[commune] = visits.get(commune, 0) + 1
    anchor = rng.choice(sorted(removed))
    pool = []
    for k, spec in enumerate(model.specs):
        index = manager.NodeToIndex(model.n_places + k)
        commune = spec.candidate.commune_id
        if index in served or index in removed or visits.get(commune, 0) >= model.caps[commune]:
            continue
        pool.append((ctx.travel(anchor, index) + ctx.travel(index, anchor), index, k))
    pool.sort()
    # the most valuable of the unserved stops closest to the ruin, in random order of value
    near = pool[:_INSERT_NEAR]
    near.sort(key=lambda item: -model.soft_values[item[2]] * (0.5 + rng.random()))
    for _, index, k in near[:_INSERT_TRIES]:
        options = []
        for v in model.specs[k].options:
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


class Lns:
    """One ruin-and-recreate search on ``model`` within ``budget_s`` seconds (and ``params.solution_limit`` steps).

    ``fast``: our compiled descent as the repair, when it can express the model;
    ``focus``: focused steps (:mod:`routing.focus`), on large models without it;
    ``report``: told of every new best plan. ``notes`` collects what the search has to
    tell in the plan's messages.
    """

    def __init__(
        self,
        model: Model,
        budget_s: float,
        *,
        fast: FastModel | None = None,
        focus: FocusStep | None = None,
        report: Report | None = None,
    ) -> None:
        self.model = model
        self.budget_s = budget_s
        self.fast = fast
        self.focus = focus
        self.report = report
        self.notes: list[str] = []

    def run(
        self,
        solution: pywrapcp.Assignment,
        search: routing_parameters_pb2.RoutingSearchParameters,
        started_ms: int,
    ) -> pywrapcp.Assignment:
        """Ruin and recreate until the time or step limit; returns the best assignment.

        Each step removes a few stops of the current plan (:func:`routing.search.ruin`),
        pre-places a few unserved ones (:func:`insert_unserved`) and lets OR-Tools'
        greedy descent re-insert, move and swap stops from there until a local optimum
        (``SolveFromAssignmentWithParameters`` on :meth:`~routing.model.Model.assignment`).
        The result replaces the current plan under :class:`routing.search.Acceptance`; the
        best plan is kept aside. With ``fast`` the compiled-descent LNS runs first, and this
        loop only if OR-Tools disagreed with it.
        """
        model = self.model
        routing, solver = model.routing, model.solver
        if self.fast is not None:
            solution, agreed = self._fast_run(solution, self.fast, started_ms)
            if agreed:
                return solution
        rng = random.Random(model.params.seed)
        ctx = ruin_context(model)
        budget_ms = self.budget_s * 1000.0
        limit = model.params.solution_limit
        acceptance = Acceptance(_TEMPERATURE * model.median_value(), rng)
        best = solver.Assignment(solution)
        best_obj = current_obj = solution.ObjectiveValue()
        current = model.routes_of(solution)
        step = since_best = 0
        focus = self.focus
        while limit is None or step < limit:
            used = solver.WallTime() - started_ms
            left = budget_ms - used
            if left < 5:
                break
            step += 1
            if focus is not None and rng.random() < _FOCUS_SHARE:
                repaired = focus(current, ctx, rng, left)
            else:
                _, removed = ruin(current, ctx, rng, _MAX_REMOVE)
                if not removed:
                    break
                kept = [[i for i in r if i not in removed] for r in current]
                if _INSERT_TRIES:
                    kept = insert_unserved(model, kept, removed, ctx, rng)
                partial = model.assignment(kept)
                repair_ms = min(left, _MAX_WHOLE_MS) if focus is not None else left
                search.time_limit.FromMilliseconds(max(1, int(repair_ms)))
                repaired = routing.SolveFromAssignmentWithParameters(partial, search)
            if repaired is None:
                continue
            objective = repaired.ObjectiveValue()
            since_best += 1
            if objective < best_obj:  # a copy: the solver reuses the assignment it returns
                best, best_obj, since_best = solver.Assignment(repaired), objective, 0
                if self.report is not None:
                    snapshot = model.routes_of(best)
                    self.report(objective, lambda: sum(len(r) for r in snapshot))
            progress = step / limit if limit is not None else used / budget_ms
            if acceptance.accept(objective, current_obj, progress):
                current, current_obj = model.routes_of(repaired), objective
            if since_best >= _RESTART_AFTER:
                current, current_obj, since_best = model.routes_of(best), best_obj, 0
        return best

    def _fast_run(
        self, solution: pywrapcp.Assignment, fast: FastModel, started_ms: int
    ) -> tuple[pywrapcp.Assignment, bool]:
        """The LNS with :mod:`routing.descent` as the repair; (best assignment, models agreed).

        Same ruin and acceptance as :meth:`run` (warmer: ``_FAST_TEMPERATURE``), but the
        repair is our compiled descent on the whole model (no focused steps: a descent
        costs about half a millisecond, from the routes the ruin touched). Where stops are
        chosen, a share ``_RATIO_SHARE`` of the repairs first reinserts the ruined region by
        value per minute of route time (the TOPTW recreate), the rest by the descent's
        random-order insertions: the mix beat either alone (``benchmarks/README.md``, eighth
        round). Every new best plan is read back by OR-Tools, which must accept it with the objective our
        search computed; if it does not, the search stops here with ``agreed`` False and
        the caller goes on with OR-Tools' own descent.
        """
        model = self.model
        routing, solver = model.routing, model.solver
        node_of = model.node_of()
        index_of = [0] * len(node_of)  # customers only: a place has one index per route end
        for i in range(routing.Size()):
            index_of[node_of[i]] = i
        rng = random.Random(model.params.seed)
        ctx = ruin_context(model)
        budget_ms = self.budget_s * 1000.0
        limit = model.params.solution_limit
        acceptance = Acceptance(_FAST_TEMPERATURE * model.median_value(), rng)
        best = solver.Assignment(solution)
        best_obj = current_obj = solution.ObjectiveValue()
        current = model.routes_of(solution)
        own, feasible = fast.evaluate([[node_of[i] for i in r] for r in current])
        if not feasible:  # our model is stricter on lunch before a late start, say: OR-Tools goes on
            self.notes.append("compiled descent: the first plan is outside its model; OR-Tools' descent took over")
            return best, False
        offset = best_obj - own
        step = since_best = 0
        # Whether current / best are our descent's local optima (OR-Tools' first plan is not):
        # then a descent after a ruin need only start from what the ruin touched.
        current_local = best_local = False
        best_nodes = [[node_of[i] for i in r] for r in current]
        # Route recombination pays where stops are chosen (prize-collecting weeks, TOPTW);
        # when every stop is mandatory (VRPTW) it found only metres at 5 % of the budget each.
        choosing = not all(c.mandatory for c in model.problem.candidates)
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
                share = min(_RECOMBINE_SHARE * self.budget_s, 0.5 * (budget_ms - used) / 1000.0)
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
                    self.notes.append(
                        "compiled descent disagreed with OR-Tools "
                        f"({'infeasible' if check is None else check.ObjectiveValue()} against {objective}): "
                        "OR-Tools' descent took over"
                    )
                    return best, False
                best, best_obj, best_local, since_best = solver.Assignment(check), objective, True, 0
                best_nodes = routes
                if self.report is not None:
                    self.report(objective, lambda: sum(len(r) for r in repaired))
            if mixed is not None or acceptance.accept(objective, current_obj, progress):
                current, current_obj, current_local = repaired, objective, True
            if since_best >= _FAST_RESTART_AFTER:
                current, current_obj, current_local, since_best = model.routes_of(best), best_obj, best_local, 0
        return best, True
