"""The compiled local search (routing/descent.py, routing/_descent.c).

Its answers are checked against a schedule computed here from scratch (earliest start at
every stop), never against its own segment arithmetic; and at solver level, against
OR-Tools and the independent plan checker.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from routing.descent import FastData, FastModel, available
from routing.params import SolveParams
from routing.precheck import prepare
from routing.problem import Break, Problem
from routing.model import Model
from routing.solver import solve
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


def _schedule_ok(data: FastData, v: int, route: Sequence[int], lunch_gap: int | None, lunch_start: int | None) -> bool:
    """Earliest schedule of ``route`` on ``v``; with a lunch starting exactly at ``lunch_start``
    in gap ``lunch_gap`` (0: before the first stop), the drive of that leg split every
    possible way around it (brute force, shares nothing with the C arithmetic)."""
    kind = data.vehicle_kind[v]
    path = [data.vehicle_start[v], *route, data.vehicle_end[v]]
    t = data.vehicle_window[v][0]
    for p in range(1, len(path)):
        a, b = path[p - 1], path[p]
        hull = data.window[v][b] if p < len(path) - 1 else data.vehicle_window[v]
        if hull is None:
            return False
        windows = data.split.get((v, b), [hull]) if p < len(path) - 1 else [hull]
        if p - 1 == lunch_gap:
            assert lunch_start is not None
            duration = data.lunch[v][2]  # type: ignore[index]
            service = data.service[a] if p > 1 else 0
            travel = data.drive[kind][a][b]
            arrivals = [
                lunch_start + duration + travel - x for x in range(travel + 1) if t + service + x <= lunch_start
            ]
            if not arrivals:
                return False
            arrival = min(arrivals)
        else:
            arrival = t + data.transit[kind][a][b]
        starts = [max(arrival, lo) for lo, hi in windows if max(arrival, lo) <= hi]
        if not starts:
            return False
        t = min(starts)
    return True


def _check(data: FastData, routes: Sequence[Sequence[int]]) -> tuple[int, bool]:
    """Objective (km - value) and feasibility, from scratch."""
    feasible, total = True, 0
    seen: set[int] = set()
    per_group: dict[int, int] = {}
    per_commune_day: dict[tuple[int, int], set[int]] = {}  # routes serving a commune that day
    for v, route in enumerate(routes):
        if not route:
            continue
        kind, km = data.vehicle_kind[v], data.vehicle_km[v]
        lunch = data.lunch[v] if data.lunch else None
        if lunch is None:
            feasible &= _schedule_ok(data, v, route, None, None)
        else:
            feasible &= any(
                _schedule_ok(data, v, route, gap, start)
                for gap in range(len(route) + 1)
                for start in range(lunch[0], lunch[1] + 1)
            )
        path = [data.vehicle_start[v], *route, data.vehicle_end[v]]
        limit = data.max_driving[v] if data.max_driving else None
        if limit is not None:
            feasible &= sum(data.drive[kind][a][b] for a, b in zip(path, path[1:])) <= limit
        total += sum(data.km[km][a][b] for a, b in zip(path, path[1:]))
        for node in route:
            assert node not in seen
            seen.add(node)
            total -= data.value[v][node]
            if data.group[node] >= 0:
                g = data.group[node]
                per_group[g] = per_group.get(g, 0) + 1
            commune = (data.commune or data.group)[node]
            if commune >= 0:
                day = data.vehicle_day[v] if data.vehicle_day else 0
                per_commune_day.setdefault((commune, day), set()).add(v)
        cap = data.capacity[v]
        feasible &= cap is None or sum(data.load[i] for i in route) <= cap
    caps = data.group_cap or [1] * (max(data.group) + 1)
    feasible &= all(count <= caps[g] for g, count in per_group.items())
    feasible &= all(len(routes_) <= 1 for routes_ in per_commune_day.values())
    return total, feasible


def _depot_fleet(
    matrix: list[list[int]],
    windows: list[tuple[int, int] | None],
    values: list[int],
    *,
    vehicles: int = 1,
    horizon: tuple[int, int] = (0, 100),
    capacity: int | None = None,
    load: list[int] | None = None,
    group: list[int] | None = None,
) -> FastData:
    """Node 0 is the depot of every vehicle; ``matrix`` is both time and kilometres."""
    n = len(matrix)
    return FastData(
        n_places=1,
        transit=[matrix],
        km=[matrix],
        vehicle_kind=[0] * vehicles,
        vehicle_km=[0] * vehicles,
        vehicle_start=[0] * vehicles,
        vehicle_end=[0] * vehicles,
        vehicle_window=[horizon] * vehicles,
        capacity=[capacity] * vehicles,
        window=[windows] * vehicles,
        value=[values] * vehicles,
        load=load or [0] * n,
        group=group or [-1] * n,
    )


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


def test_more_neighbours_than_the_served_masks_hold_are_capped_at_64() -> None:
    """Each stop's served neighbours live in a 64-bit mask: a larger request keeps the nearest 64."""
    rng = random.Random(5)
    data = _instance(rng, 90, 3)
    routes, objective, feasible = FastModel(data, neighbours=100).descend([[] for _ in data.vehicle_kind], 5)
    assert feasible
    assert _check(data, routes) == (objective, True)
    capped = FastModel(data, neighbours=64).descend([[] for _ in data.vehicle_kind], 5)
    assert capped == (routes, objective, feasible)


def test_evaluate_sees_a_missed_window_and_the_right_order() -> None:
    # Two stops side by side: A opens early, B late; A then B fits, B then A does not.
    transit = [[0, 10, 10], [10, 0, 5], [10, 5, 0]]
    data = _depot_fleet(transit, [None, (10, 20), (60, 70)], [0, 100, 100])
    model = FastModel(data)
    assert model.evaluate([[1, 2]]) == (25 - 200, True)
    assert model.evaluate([[2, 1]])[1] is False
    routes, objective, feasible = model.descend([[]], 1)
    assert (routes, objective, feasible) == ([[1, 2]], -175, True)


def test_one_site_per_commune_and_capacity_hold() -> None:
    # Stops 1 and 2 are two sites of one commune (group 0); stop 3 weighs too much.
    transit = [[0, 5, 5, 5], [5, 0, 1, 1], [5, 1, 0, 1], [5, 1, 1, 0]]
    data = _depot_fleet(
        transit, [None, (0, 100), (0, 100), (0, 100)], [0, 50, 80, 20], capacity=4, load=[0, 1, 2, 3], group=[-1, 0, 0, -1]
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
    data = _depot_fleet(
        dist, [None] + [(0, 10_000)] * 4, [0] + [1000] * 4, vehicles=2, horizon=(0, 10_000), capacity=2, load=[0, 1, 1, 1, 1]
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
    assert Model(problem, prepare(problem), SolveParams()).fast_data() is not None
    plan = solve(problem, SolveParams(time_limit_s=2.0, seed=3))
    assert not violations(problem, plan)
    assert not [m for m in plan.messages if "compiled descent" in m]  # every best plan agreed with OR-Tools
    assert len(plan.routes) == 6


def test_lunch_breaks_are_planned_by_the_compiled_descent_and_ortools_agrees() -> None:
    problem = _valley_week(120, lunch=True)
    data = Model(problem, prepare(problem), SolveParams()).fast_data()
    assert data is not None and all(b is not None for b in data.lunch)
    plan = solve(problem, SolveParams(time_limit_s=2.0, seed=5))
    assert not violations(problem, plan)
    assert not [m for m in plan.messages if "compiled descent" in m]
    assert len(plan.routes) == 6


def _with_side_constraints(data: FastData, rng: random.Random) -> FastData:
    """``data`` on three days, with lunch breaks, driving limits and communes visited twice."""
    m = len(data.vehicle_kind)
    n = len(data.load)
    service = [0] + [rng.randint(0, 10) for _ in range(n - 1)]
    drive = [[data.transit[0][i][j] - service[i] if i != j else 0 for j in range(n)] for i in range(n)]
    drive = [[max(0, x) for x in row] for row in drive]
    transit = [[service[i] + drive[i][j] if i != j else 0 for j in range(n)] for i in range(n)]
    n_groups = max(1, (n - 1) // 4)
    split: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for v in range(m):
        for i in range(1, n):
            w = data.window[v][i]
            if w is not None and w[1] - w[0] >= 40 and rng.random() < 0.4:
                cut = rng.randint(w[0] + 5, w[1] - 30)
                split[v, i] = [(w[0], cut), (cut + 20, w[1])]  # a closed hour in the middle
    return replace(
        data,
        split=split,
        transit=[transit],
        drive=[drive],
        service=service,
        vehicle_day=[v % 3 for v in range(m)],
        group=[-1] + [rng.randrange(n_groups) if rng.random() < 0.6 else -1 for _ in range(n - 1)],
        group_cap=[rng.choice([1, 2, 3]) for _ in range(n_groups)],
        max_driving=[rng.choice([None, 150, 250]) for _ in range(m)],
        lunch=[rng.choice([None, (150, 190, 30), (100, 250, 45)]) for _ in range(m)],
    )


@pytest.mark.parametrize("seed", range(12))
def test_descent_keeps_lunch_driving_and_a_commune_on_one_route_a_day(seed: int) -> None:
    rng = random.Random(100 + seed)
    data = _with_side_constraints(_instance(rng, rng.randint(5, 16), rng.randint(2, 5)), rng)
    model = FastModel(data, neighbours=rng.choice([3, 10]))
    routes, objective, feasible = model.descend([[] for _ in data.vehicle_kind], seed)
    assert feasible
    assert _check(data, routes) == (objective, True)
    assert objective < 0
    # Random plans, feasible or not: the model's verdict is the brute-force one.
    nodes = list(range(1, len(data.load)))
    for _ in range(30):
        rng.shuffle(nodes)
        cut = sorted(rng.sample(range(len(nodes) + 1), len(data.vehicle_kind) - 1))
        bounds = [0, *cut, len(nodes)]
        plan = [nodes[a:b][: rng.randint(0, 4)] for a, b in zip(bounds, bounds[1:])]
        assert model.evaluate(plan) == _check(data, plan)


@pytest.mark.parametrize("seed", range(16))
def test_a_descent_after_a_ruin_misses_no_improving_move(seed: int) -> None:
    # After an LNS ruin the descent only tries moves involving the routes the ruin touched,
    # the stops it removed, and what changed since (communes included): the moves it skips
    # must all be useless, so a full descent from its answer finds nothing more.
    rng = random.Random(300 + seed)
    data = _instance(rng, rng.randint(20, 50), rng.randint(3, 7), groups=seed % 2 == 0, capacity=rng.choice([None, 15]))
    if seed % 4 < 2:
        data = _with_side_constraints(data, rng)
    model = FastModel(data, neighbours=rng.choice([3, 5, 10, 30]))
    routes, objective, _ = model.descend([[] for _ in data.vehicle_kind], seed)
    for step in range(25):
        served = [i for r in routes for i in r]
        removed = set(rng.sample(served, min(len(served), rng.randint(1, 8))))
        kept = [[i for i in r if i not in removed] for r in routes]
        touched = [v for v, r in enumerate(routes) if len(r) != len(kept[v])]
        # Every other repair reinserts by value per minute first (the TOPTW recreate).
        routes, objective, feasible = model.descend(kept, 10 * seed + step, touched, sorted(removed), ratio=step % 2 == 1)
        assert feasible
        assert _check(data, routes) == (objective, True)
        _, objective_again, _ = model.descend(routes, 99 + step)
        assert objective_again == objective, f"step {step}: {objective} -> {objective_again}"


def test_the_ratio_recreate_keeps_the_time_for_stops_worth_it() -> None:
    # Stop 1 is served next to the depot. A (2) is far: worth 10 000 but it takes the rest of
    # the day; B (3) and C (4) are close, worth 8 000 each, 30 minutes of service each. A
    # excludes both. The descent inserts in random order and, once A is in, no move makes
    # room for B and C (replacing A by one of them loses value): it ends with 10 000 or
    # 16 000 by luck. Inserting by value squared per minute of the day takes B and C first.
    xs = [0, 1, 40, 2, 3]
    service = [0, 0, 0, 30, 30]
    dist = [[abs(a - b) for b in xs] for a in xs]
    transit = [[service[i] + dist[i][j] if i != j else 0 for j in range(5)] for i in range(5)]
    data = replace(
        _depot_fleet(dist, [None] + [(0, 85)] * 4, [0, 1000, 10_000, 8_000, 8_000], horizon=(0, 85)), transit=[transit]
    )
    model = FastModel(data)
    served_without, served_with = set(), set()
    for seed in range(30):
        for ratio, outcomes in ((False, served_without), (True, served_with)):
            routes, objective, feasible = model.descend([[1]], seed, [0], [2, 3, 4], ratio=ratio)
            assert feasible
            assert _check(data, routes) == (objective, True)
            outcomes.add(frozenset(routes[0]))
    assert served_with == {frozenset({1, 3, 4})}
    assert frozenset({1, 2}) in served_without  # the random order does lock B and C out


def test_what_a_ruin_touched_must_exist() -> None:
    data = _instance(random.Random(5), 10, 2)
    model = FastModel(data)
    with pytest.raises(ValueError, match="touched: 2 is out of range"):
        model.descend([[], []], 1, [2], [])
    with pytest.raises(ValueError, match="removed: 11 is out of range"):
        model.descend([[], []], 1, [0], [11])


def test_stops_whose_neighbours_are_all_unserved_still_get_in() -> None:
    # B and C lie together far from A; with one neighbour each, B's is C and C's is B, so
    # no served stop is near them: they must still be tried at the route's ends.
    pts = [(0, 0), (1, 0), (50, 0), (51, 0)]
    dist = [[abs(a[0] - b[0]) for b in pts] for a in pts]
    data = _depot_fleet(dist, [None, (0, 1000), (0, 1000), (0, 1000)], [0, 1000, 1000, 1000], horizon=(0, 1000))
    routes, objective, feasible = FastModel(data, neighbours=1).descend([[1]], 0)
    assert feasible
    assert sorted(routes[0]) == [1, 2, 3]
    assert objective == _check(data, routes)[0]


def test_without_the_extension_the_planner_keeps_ortools_descent(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.descent

    monkeypatch.setattr(routing.descent, "_descent", None)
    problem = _valley_week(30, lunch=True)
    assert Model(problem, prepare(problem), SolveParams()).fast_data() is None
    plan = solve(problem, SolveParams(time_limit_s=1.0, seed=1))
    assert plan.visits and not violations(problem, plan)


def test_a_disagreement_with_ortools_hands_over_to_its_descent(monkeypatch: pytest.MonkeyPatch) -> None:
    # A compiled model that lies about its objective by one unit: the first new best it
    # claims is read back by OR-Tools, the mismatch is caught, and OR-Tools' LNS goes on.
    real = FastModel.descend

    def lying(
        self: FastModel, routes: Sequence[Sequence[int]], seed: int, *changed: Any
    ) -> tuple[list[list[int]], int, bool]:
        found, objective, feasible = real(self, routes, seed, *changed)
        return found, objective - 1, feasible

    monkeypatch.setattr(FastModel, "descend", lying)
    problem = _valley_week(40, lunch=False)
    plan = solve(problem, SolveParams(time_limit_s=1.5, seed=2))
    assert [m for m in plan.messages if "compiled descent disagreed with OR-Tools" in m]
    assert plan.visits and not violations(problem, plan)
