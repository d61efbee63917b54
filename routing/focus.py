"""Focused steps of the large neighbourhood search: a few routes re-planned on a model of their own.

Why: every repair of the LNS ends in an OR-Tools descent that scans every (stop,
position) pair of the whole model. On 240 customers that is about 0.1 s per repair, and
most of it is spent on stops far from anything the ruin touched. A *focused* step takes
one or two neighbouring route-days, the stops they serve and the unserved stops nearest
to them, builds a small model of that part alone and runs a few repairs there (three to
six times faster each). Everything outside the focus stays as it is, so the result is
spliced back into the plan and judged on the whole model.

How: on models of 100 nodes or more, with no pins, frozen stops or re-planning penalties
(:func:`applies`), 80 % of the steps of the LNS with OR-Tools' descent
(:class:`routing.lns.Lns`) are focused steps (:func:`focus_step`): they take two
neighbouring route-days (more when they hold fewer than 50 stops and nothing is unserved,
as in VRPTW), their stops and the 40 unserved stops nearest to them (:func:`choose_focus`,
on plain node numbers), build a :class:`~routing.problem.Problem` of that part alone and
run up to 8 LNS steps on it (:func:`improve`), then splice the best routes back; the whole
plan is judged on the whole model (``ReadAssignmentFromRoutes``).

Since November 2026 focused steps only run where our compiled descent
(:mod:`routing.descent`) does not: an install without a C compiler, or a run where OR-Tools
disagreed with it. Their conditions are the same (no pins, re-plan point or re-planning
penalties), and the compiled descent repairs the whole model faster than a focused step
repairs two routes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ortools.constraint_solver import pywrapcp

from routing.lns import Lns, repair_parameters
from routing.model import Model, PlanRoutes
from routing.precheck import NodeSpec, prepare
from routing.problem import Problem
from routing.search import Distance, RuinContext, Routes

# A focus holds about this many unserved stops besides the ones its routes already serve:
# 40 keeps the sub-model near 100 nodes, where a repair costs a quarter of the full one on
# 240 customers (TOPTW pr instances, benchmarks/README.md).
POOL_SIZE = 40
ROUTES_PER_FOCUS = 2
# When every stop is served (all mandatory, as in VRPTW) there is no pool: more nearest routes
# join the focus until it holds MIN_STOPS stops (at most MAX_ROUTES routes). Two routes of ten
# stops leave each repair too little to move (6 VRPTW instances of 200-400 customers, one
# worker, 30 s: 2.1 % shorter in all; benchmarks/README.md, fourth round).
MIN_STOPS = 50
MAX_ROUTES = 6
# Below this many nodes a whole-model repair is cheap enough (about 25 ms at 90 candidates)
# that the sub-model's overhead does not pay: the demo territory (99 nodes, 20 s) served 62 %
# of its demand with focused steps and 66 % without; from 100 customers on (Solomon TOPTW,
# rural 250) focused steps win (benchmarks/README.md).
MIN_NODES = 100
# A focused step makes up to _FOCUS_STEPS repairs on its sub-model, in at most _FOCUS_MAX_S.
_FOCUS_STEPS = 8
_FOCUS_MAX_S = 0.5


def applies(problem: Problem, n_nodes: int, *, replanning: bool) -> bool:
    """Focused steps run on models of at least :data:`MIN_NODES` nodes whose routes are independent.

    Pins, a re-plan point and re-planning (``replanning``: a previous plan's stops carry
    move penalties) tie the plan to things a sub-model would not see; those runs keep to
    whole-model steps.
    """
    return n_nodes >= MIN_NODES and not problem.pins and problem.frozen_before is None and not replanning


def eligible(model: Model) -> bool:
    """Whether the LNS on ``model`` takes focused steps (:func:`applies`).

    The sub-models of focused steps never do: :func:`improve` runs their LNS without.
    """
    return applies(model.problem, len(model.specs), replanning=model.replanning())


@dataclass(frozen=True)
class Focus:
    """Route indices to re-plan together and the unserved nodes they may take."""

    routes: tuple[int, ...]
    unserved: tuple[int, ...]


def choose_focus(
    routes: Routes,
    unserved: Sequence[int],
    travel: Distance,
    allowed: Callable[[int, int], bool],
    group: Callable[[int], int],
    rng: random.Random,
    *,
    routes_per_focus: int | None = None,
    pool_size: int | None = None,
    min_stops: int | None = None,
    max_routes: int | None = None,
) -> Focus:
    """Pick a random route, its nearest neighbour route(s) and the unserved stops nearest to them.

    The focus takes ``routes_per_focus`` routes, and more (up to ``max_routes``) while its
    stops plus the unserved stops it could take number fewer than ``min_stops``.

    * ``travel(a, b)``: travel between two nodes; ``allowed(node, route)``: the node may be
      served on that route; ``group(node)``: its commune.
    * An unserved node whose commune is visited on a route outside the focus is left out:
      the small model could not see that visit and would add a second one.
    * A route without stops is a valid focus (a day the plan left empty): its pool is the
      unserved stops nearest to a random one it may take.
    """
    routes_per_focus = ROUTES_PER_FOCUS if routes_per_focus is None else routes_per_focus
    pool_size = POOL_SIZE if pool_size is None else pool_size
    min_stops = MIN_STOPS if min_stops is None else min_stops
    max_routes = MAX_ROUTES if max_routes is None else max_routes
    n = len(routes)
    busy = [v for v in range(n) if routes[v]]
    first = rng.choice(busy) if busy and (len(busy) == n or rng.random() < 0.9) else rng.randrange(n)
    chosen = [first]
    anchor_pool = list(routes[first])
    pool_bound = min(pool_size, len(unserved))
    while len(chosen) < n and (
        len(chosen) < routes_per_focus or (len(chosen) < max_routes and len(anchor_pool) + pool_bound < min_stops)
    ):
        others = [v for v in range(n) if v not in chosen]
        if anchor_pool:
            seed = rng.choice(anchor_pool)
            scored = [(min((travel(seed, x) + travel(x, seed) for x in routes[v]), default=None), v) for v in others]
            near = [(d, v) for d, v in scored if d is not None]
            pick = min(near)[1] if near else rng.choice(others)
        else:
            pick = rng.choice(others)
        chosen.append(pick)
        anchor_pool += list(routes[pick])
    inside = set(chosen)
    blocked = {group(x) for v in range(n) if v not in inside for x in routes[v]}
    pool = [u for u in unserved if group(u) not in blocked and any(allowed(u, v) for v in chosen)]
    stops = [x for v in chosen for x in routes[v]]
    if not stops and pool:
        stops = [rng.choice(pool)]
    if len(pool) > pool_size:
        pool.sort(key=lambda u: (min(travel(x, u) + travel(u, x) for x in stops), u))
        pool = pool[:pool_size]
    return Focus(routes=tuple(chosen), unserved=tuple(pool))


def focus_step(
    model: Model, current: list[list[int]], ctx: RuinContext, rng: random.Random, left_ms: float
) -> pywrapcp.Assignment | None:
    """Re-plan a few routes of ``model`` on a sub-model and splice them back.

    Returns the whole plan as an assignment of ``model`` (its objective is the whole
    plan's), or None when nothing changed. The sub-model's objective counts exactly the
    stops and kilometres that can change, so its improvement is the plan's.
    """
    manager, n_places = model.manager, model.n_places
    served = {i for r in current for i in r}
    unserved = [
        index
        for k in range(len(model.specs))
        if (index := manager.NodeToIndex(n_places + k)) not in served
    ]

    def spec_of(index: int) -> NodeSpec:
        return model.specs[manager.IndexToNode(index) - n_places]

    focus = choose_focus(
        current,
        unserved,
        ctx.travel,
        allowed=lambda index, v: v in spec_of(index).options,
        group=lambda index: spec_of(index).candidate.commune_id,
        rng=rng,
    )
    keys = {model.days[v].key for v in focus.routes}
    start = {model.days[v].key: [spec_of(i).candidate.id for i in current[v]] for v in focus.routes}
    ids = {c for r in start.values() for c in r} | {spec_of(u).candidate.id for u in focus.unserved}
    if not ids:
        return None
    shifts = tuple(s for s in model.problem.shifts if s.key in keys)
    resource_ids = {s.resource_id for s in shifts}
    resources = tuple(r for r in model.problem.resources if r.id in resource_ids)
    sub = Problem(
        resources=resources,
        shifts=shifts,
        candidates=tuple(c for c in model.problem.candidates if c.id in ids),
        matrices={r.kind: model.problem.matrix(r.kind) for r in resources},
        day_length=model.problem.day_length,
    )
    budget = min(_FOCUS_MAX_S, left_ms / 1000.0)
    params = replace(
        model.params, time_limit_s=budget, solution_limit=_FOCUS_STEPS, seed=rng.randrange(1, 2**31), workers=1
    )
    improved = improve(Model(sub, prepare(sub), params), start)
    if improved is None or improved == start:
        return None
    plan = model.plan_routes(current)
    plan.update(improved)
    return model.routing.ReadAssignmentFromRoutes(model.index_routes(plan), True)


def improve(model: Model, start: PlanRoutes) -> PlanRoutes | None:
    """Best routes found by the LNS from ``start`` (candidate ids per route-day key) within ``model.params``' limits.

    Used on the small models of focused steps (no compiled descent, no focused steps of
    their own); None when ``start`` does not fit.
    """
    routing = model.routing
    search = repair_parameters(model.params)
    routing.CloseModelWithParameters(search)
    routes = model.index_routes(start)
    if routing.ReadAssignmentFromRoutes(routes, True) is None:
        return None
    started = model.solver.WallTime()
    budget_s = model.params.time_limit_s
    search.time_limit.FromMilliseconds(max(1, round(budget_s * 1000)))
    solution = routing.SolveFromAssignmentWithParameters(model.assignment(routes), search)
    if solution is None:
        return None
    return model.plan_routes(model.routes_of(Lns(model, budget_s).run(solution, search, started)))
