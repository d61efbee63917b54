"""The compiled local search (routing/descent.py, routing/_descent.c).

Its answers are checked against a schedule computed here from scratch (earliest start at
every stop), never against its own segment arithmetic; and at solver level, against
OR-Tools and the independent plan checker.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from routing.descent import FastData, FastModel, available
from routing.params import SolveParams
from routing.precheck import prepare
from routing.problem import Break, Problem
from routing.solver import _Model, solve
from tests.unit.routing.builders import cand, car, loc, shift, site
from tests.unit.routing.checker import violations


def test_the_extension_is_built() -> None:
    # The install compiles it (optional only for machines without a C compiler); losing it
    # silently would cost the planner most of its quality on large weeks.
    assert available()


def _instance(rng: random.Random, n_customers: int, m: int, *, groups: bool = False, capacity: int | None = None) -> FastData:
    """Random points on a 100 x 100 square, one depot, windows of various widths."""
    pts = [(50.0, 50.0)] + [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(n_customers)]
    n = len(pts)
    dist = [[round(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5) for b in pts] for a in pts]
    service = [0] + [rng.randint(0, 10) for _ in range(n_customers)]
    transit = [[service[i] + dist[i][j] if i != j else 0 for j in range(n)] for i in range(n)]
    horizon = 400
    windows: list[tuple[int, int] | None] = [None]
    for _ in range(n_customers):
        lo = rng.randint(0, horizon - 60)
        windows.append((lo, min(horizon, lo + rng.choice([10, 40, 120, 400]))))
    value = [0] + [rng.randint(1, 30) * 1000 for _ in range(n_customers)]
    return FastData(
        n_places=1,
        transit=[transit],
        km=[dist],
        vehicle_kind=[0] * m,
        vehicle_km=[0] * m,
        vehicle_start=[0] * m,
        vehicle_end=[0] * m,
        vehicle_window=[(0, horizon)] * m,
        capacity=[capacity] * m,
        window=[windows] * m,
        value=[value] * m,
        load=[0] + [rng.randint(1, 5) for _ in range(n_customers)],
        group=[-1] + ([rng.randrange(n_customers // 3) if groups else -1 for _ in range(n_customers)]),
    )


def _check(data: FastData, routes: Sequence[Sequence[int]]) -> tuple[int, bool]:
    """Objective (km - value) and feasibility, by an earliest-start schedule."""
    feasible, total = True, 0
    seen: set[int] = set()
    per_group: dict[int, int] = {}
    for v, route in enumerate(routes):
        if not route:
            continue
        kind, km = data.vehicle_kind[v], data.vehicle_km[v]
        t = data.vehicle_window[v][0]
        prev = data.vehicle_start[v]
        load = 0
        for node in route:
            assert node not in seen
            seen.add(node)
            w = data.window[v][node]
            if w is None:
                feasible = False
                w = (0, 10**9)
            t = max(t + data.transit[kind][prev][node], w[0])
            feasible &= t <= w[1]
            total += data.km[km][prev][node] - data.value[v][node]
            load += data.load[node]
            if data.group[node] >= 0:
                per_group[data.group[node]] = per_group.get(data.group[node], 0) + 1
            prev = node
        end = data.vehicle_end[v]
        t += data.transit[kind][prev][end]
        total += data.km[km][prev][end]
        feasible &= t <= data.vehicle_window[v][1]
        cap = data.capacity[v]
        feasible &= cap is None or load <= cap
    feasible &= all(count <= 1 for count in per_group.values())
    return total, feasible


@pytest.mark.parametrize("seed", range(12))
def test_descent_is_feasible_consistent_and_never_worse(seed: int) -> None:
    rng = random.Random(seed)
    data = _instance(rng, rng.randint(5, 40), rng.randint(1, 4), groups=seed % 3 == 1, capacity=12 if seed % 3 == 2 else None)
    model = FastModel(data, neighbours=rng.choice([3, 10, 30]))
    start: list[list[int]] = [[] for _ in data.vehicle_kind]
    start_obj, _ = _check(data, start)
    routes, objective, feasible = model.descend(start, seed)
    assert feasible
    assert _check(data, routes) == (objective, True)
    assert objective < start_obj  # something was worth serving
    # A second descent from its own local optimum finds nothing more with the same neighbours
    # and never makes it worse; the model's evaluation agrees with ours.
    again, objective2, _ = model.descend(routes, seed + 1)
    assert objective2 <= objective
    assert model.evaluate(again) == _check(data, again)


def test_evaluate_sees_a_missed_window_and_the_right_order() -> None:
    # Two stops side by side: A opens early, B late; A then B fits, B then A does not.
    transit = [[0, 10, 10], [10, 0, 5], [10, 5, 0]]
    data = FastData(
        n_places=1,
        transit=[transit],
        km=[transit],
        vehicle_kind=[0],
        vehicle_km=[0],
        vehicle_start=[0],
        vehicle_end=[0],
        vehicle_window=[(0, 100)],
        capacity=[None],
        window=[[None, (10, 20), (60, 70)]],
        value=[[0, 100, 100]],
        load=[0, 0, 0],
        group=[-1, -1, -1],
    )
    model = FastModel(data)
    assert model.evaluate([[1, 2]]) == (25 - 200, True)
    assert model.evaluate([[2, 1]])[1] is False
    routes, objective, feasible = model.descend([[]], 1)
    assert (routes, objective, feasible) == ([[1, 2]], -175, True)


def test_one_site_per_commune_and_capacity_hold() -> None:
    # Stops 1 and 2 are two sites of one commune (group 0); stop 3 weighs too much.
    transit = [[0, 5, 5, 5], [5, 0, 1, 1], [5, 1, 0, 1], [5, 1, 1, 0]]
    data = FastData(
        n_places=1,
        transit=[transit],
        km=[transit],
        vehicle_kind=[0],
        vehicle_km=[0],
        vehicle_start=[0],
        vehicle_end=[0],
        vehicle_window=[(0, 100)],
        capacity=[4],
        window=[[None, (0, 100), (0, 100), (0, 100)]],
        value=[[0, 50, 80, 20]],
        load=[0, 1, 2, 3],
        group=[-1, 0, 0, -1],
    )
    model = FastModel(data)
    outcomes = set()
    for seed in range(20):  # the order of the moves changes which local optimum is reached
        routes, objective, feasible = model.descend([[1]], seed)
        assert feasible
        assert _check(data, routes) == (objective, True)  # never sites 1 and 2, never above 4
        outcomes.add(tuple(sorted(routes[0])))
    # From [1]: swap to the better site 2 (then 3 no longer fits), or add 3 first (then 2
    # fits neither beside 1, same commune, nor instead of 3, load 5).
    assert outcomes <= {(2,), (1, 3)}
    assert (2,) in outcomes


def test_two_opt_star_untangles_crossing_routes() -> None:
    # Depot in the middle; route 0 goes west then east, route 1 east then west: exchanging
    # the tails gives one route per side.
    pts = [(0, 0), (-10, 0), (10, 0), (-11, 1), (11, 1)]
    dist = [[round(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5 * 10) for b in pts] for a in pts]
    data = FastData(
        n_places=1,
        transit=[dist],
        km=[dist],
        vehicle_kind=[0, 0],
        vehicle_km=[0, 0],
        vehicle_start=[0, 0],
        vehicle_end=[0, 0],
        vehicle_window=[(0, 10_000)] * 2,
        capacity=[2, 2],
        window=[[None] + [(0, 10_000)] * 4] * 2,
        value=[[0] + [1000] * 4] * 2,
        load=[0, 1, 1, 1, 1],
        group=[-1] * 5,
    )
    tangled = [[1, 4], [2, 3]]
    routes, objective, feasible = FastModel(data).descend(tangled, 5)
    assert feasible
    assert objective < _check(data, tangled)[0]
    assert sorted(sorted(r) for r in routes) == [[1, 3], [2, 4]]


def _valley_week(n: int, *, lunch: bool) -> Problem:
    rng = random.Random(n)
    sites = [site(i, rng.uniform(-25, 25), rng.uniform(-25, 25)) for i in range(1, n + 1)]
    cands = tuple(cand(i, s, duration=rng.choice([45, 60, 90]), prize=rng.uniform(1, 9)) for i, s in enumerate(sites, 1))
    res = (car(1, loc(1, -5, 0)), car(2, loc(2, 5, 0)))
    shifts = tuple(
        shift(r.id, day, start="08:00", end="17:00", lunch=Break() if lunch else None) for r in res for day in range(3)
    )
    return Problem(resources=res, shifts=shifts, candidates=cands)


def test_solver_plans_with_the_compiled_descent_and_ortools_agrees() -> None:
    problem = _valley_week(120, lunch=False)
    assert _Model(problem, prepare(problem), SolveParams())._fast_data() is not None
    plan = solve(problem, SolveParams(time_limit_s=2.0, seed=3))
    assert not violations(problem, plan)
    assert not [m for m in plan.messages if "compiled descent" in m]  # every best plan agreed with OR-Tools
    assert len(plan.routes) == 6


def test_lunch_breaks_keep_ortools_descent() -> None:
    problem = _valley_week(20, lunch=True)
    assert _Model(problem, prepare(problem), SolveParams())._fast_data() is None
