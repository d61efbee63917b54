"""Route recombination: the best plan made of routes the search has already met.

Why: on long routes (TOPTW pr16 / pr20: 288 customers, two tours of about 30 stops) the LNS
ends in a different local optimum for every seed, and more time does not help (pr16 m=1:
650 at 10 s and at 120 s). Each of those plans holds good routes, though, and a plan can
borrow one route from here and another from there as long as they serve different stops.
Every route the LNS keeps goes into a :class:`RoutePool`; :func:`recombine` then chooses,
with CP-SAT, the routes of best total value that fit together (a set-packing model, the
"route recombination" step of set-partitioning matheuristics for the team orienteering
problem and the VRP), and the LNS goes on from that plan.

Pure: routes are lists of node numbers (as in :mod:`routing.descent`), one per vehicle;
the caller prices routes (``price``) and judges the plan it gets back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

Routes = Sequence[Sequence[int]]
# (vehicles, routes) -> (kilometre cost - value served, feasible) of each route alone on its vehicle
Pricer = Callable[[Sequence[int], Routes], list[tuple[int, bool]]]

# Routes priced into one model: the best ones by their own objective (CP-SAT then solves the
# pr16 / pr20 pools in well under a second).
MODEL_ROUTES = 4000


@dataclass
class RoutePool:
    """Distinct routes met by a search, per vehicle profile.

    ``profile[v]``: vehicles of one profile are interchangeable (same windows, values, day,
    depot...: :class:`routing.descent.FastModel`), so a route met on one may run on any.
    Past ``limit`` routes the pool stops growing (a memory bound on very long runs).
    """

    profile: Sequence[int]
    limit: int = 200_000
    seen: dict[tuple[int, tuple[int, ...]], int] = field(default_factory=dict)

    def add(self, routes: Routes) -> None:
        for v, route in enumerate(routes):
            if route and len(self.seen) < self.limit:
                self.seen.setdefault((self.profile[v], tuple(route)), v)

    def __len__(self) -> int:
        return len(self.seen)


@dataclass(frozen=True, kw_only=True)
class Groups:
    """Cross-route rules: ``group[node]`` (-1: none) serves at most ``cap[g]`` nodes, and
    ``commune[node]`` (-1: none; default ``group``) is served by one route a day."""

    group: Sequence[int]
    cap: Sequence[int]
    day: Sequence[int]  # day of each vehicle
    commune: Sequence[int] = ()


def recombine(
    pool: RoutePool,
    price: Pricer,
    groups: Groups,
    incumbent: Routes,
    *,
    time_limit_s: float,
    seed: int = 0,
) -> tuple[list[list[int]], int] | None:
    """Routes from ``pool`` (one per vehicle at most) that beat ``incumbent``, with their objective.

    None when CP-SAT finds nothing better within ``time_limit_s`` (the incumbent's routes
    are always in the model and hinted, so it never returns a worse plan).
    """
    pool.add(incumbent)
    by_profile: dict[int, list[int]] = {}
    for v, p in enumerate(pool.profile):
        by_profile.setdefault(p, []).append(v)
    keys = list(pool.seen)
    costs = price([pool.seen[k] for k in keys], [k[1] for k in keys])
    incumbent_keys = {(pool.profile[v], tuple(r)) for v, r in enumerate(incumbent) if r}
    priced = {k: c for k, (c, ok) in zip(keys, costs) if ok}
    if not incumbent_keys <= priced.keys():
        return None  # an incumbent route is infeasible alone: not ours to judge
    incumbent_cost = sum(priced[k] for k in incumbent_keys)
    chosen = sorted((k for k in priced if priced[k] < 0 and k not in incumbent_keys), key=priced.__getitem__)
    chosen = list(incumbent_keys) + chosen[: max(0, MODEL_ROUTES - len(incumbent_keys))]

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"r{i}") for i in range(len(chosen))]
    per_profile: dict[int, list[cp_model.IntVar]] = {}
    per_node: dict[int, list[cp_model.IntVar]] = {}
    per_group: dict[int, list[cp_model.IntVar]] = {}
    per_group_day: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    communes = groups.commune or groups.group
    for var, (profile, route) in zip(x, chosen):
        per_profile.setdefault(profile, []).append(var)
        day = groups.day[by_profile[profile][0]]
        for node in route:
            per_node.setdefault(node, []).append(var)
            g = groups.group[node]
            if g >= 0:
                per_group.setdefault(g, []).append(var)
        for c in {communes[node] for node in route} - {-1}:
            per_group_day.setdefault((c, day), []).append(var)
    for profile, vars_ in per_profile.items():
        model.add(sum(vars_) <= len(by_profile[profile]))
    for vars_ in per_node.values():
        if len(vars_) > 1:
            model.add_at_most_one(vars_)
    for g, terms in per_group.items():
        if len(terms) > groups.cap[g]:
            model.add(sum(terms) <= groups.cap[g])
    for vars_ in per_group_day.values():  # one route per commune and day
        if len(vars_) > 1:
            model.add_at_most_one(vars_)
    model.minimize(sum(priced[k] * var for k, var in zip(chosen, x)))
    for var, k in zip(x, chosen):
        model.add_hint(var, k in incumbent_keys)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    # Presolve's probing and clique merging take most of a second on 4 000 routes and gain
    # nothing on these set-packing models (optimal in about 0.3 s without them, pr16 m=2).
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.merge_at_most_one_work_limit = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    objective = round(solver.objective_value)
    if objective >= incumbent_cost:
        return None
    routes: list[list[int]] = [[] for _ in pool.profile]
    free = {p: list(vs) for p, vs in by_profile.items()}
    picked = [k for k, var in zip(chosen, x) if solver.value(var)]
    for profile, route in picked:  # on the vehicle it was met on when that one is still free
        v = pool.seen[(profile, route)]
        v = v if v in free[profile] else free[profile][0]
        free[profile].remove(v)
        routes[v] = list(route)
    return routes, objective
