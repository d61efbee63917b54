"""Route recombination (routing/recombine.py): the best plan made of routes already met.

Most tests price routes with a table (the module is pure and takes the pricer as an
argument); the last ones price them with the compiled model and check the plan it returns
against that model, route by route and as a whole.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from routing.descent import FastModel, available
from routing.recombine import Groups, RoutePool, recombine
from tests.unit.routing.test_descent import _instance


def _table(costs: dict[tuple[int, ...], int], infeasible: frozenset[tuple[int, ...]] = frozenset()):  # type: ignore[no-untyped-def]
    """A pricer from a table: route -> cost (the vehicle does not matter here)."""

    def price(vehicles: Sequence[int], routes: Sequence[Sequence[int]]) -> list[tuple[int, bool]]:
        assert len(vehicles) == len(routes)
        return [(costs[tuple(r)], tuple(r) not in infeasible) for r in routes]

    return price


def _no_groups(n: int, days: Sequence[int]) -> Groups:
    return Groups(group=[-1] * n, cap=[], day=days)


def test_two_plans_lend_each_other_their_best_route() -> None:
    # Plan 1 has a great first route and a poor second one; plan 2 the other way round.
    # Their great routes serve different stops: together they beat both plans.
    costs = {(1, 2): -100, (3,): -10, (4, 5): -15, (3, 6): -90, (1,): -5}
    pool = RoutePool(profile=[0, 0])
    pool.add([[4, 5], [3, 6]])  # plan 2: -105
    found = recombine(pool, _table(costs), _no_groups(7, [0, 0]), [[1, 2], [3]], time_limit_s=5)
    assert found is not None
    routes, objective = found
    assert objective == -190
    assert sorted(map(tuple, routes)) == [(1, 2), (3, 6)]


def test_a_stop_is_never_served_twice() -> None:
    # (1, 2) and (2, 3) are the two best routes, but both serve stop 2.
    costs = {(1, 2): -100, (2, 3): -100, (4,): -1, (5,): -1}
    pool = RoutePool(profile=[0, 0])
    pool.add([[2, 3], [5]])
    found = recombine(pool, _table(costs), _no_groups(6, [0, 0]), [[1, 2], []], time_limit_s=5)
    assert found is not None
    routes, objective = found
    assert objective == -101
    served = [n for r in routes for n in r]
    assert len(served) == len(set(served))


def test_no_more_routes_of_a_profile_than_vehicles_of_it() -> None:
    # Three disjoint good routes but only two vehicles of profile 0; vehicle 2 (profile 1)
    # may only take routes met on profile 1.
    costs = {(1,): -50, (2,): -40, (3,): -30, (4,): -5}
    pool = RoutePool(profile=[0, 0, 1])
    pool.add([[3], [], [4]])
    found = recombine(pool, _table(costs), _no_groups(5, [0, 0, 0]), [[1], [2], []], time_limit_s=5)
    assert found is not None
    routes, objective = found
    assert objective == -95
    assert sorted(map(tuple, routes[:2])) == [(1,), (2,)] and routes[2] == [4]


def test_commune_caps_and_one_visit_a_day_hold_across_routes() -> None:
    # Stops 1 and 2 are two sites of one commune (group 0, one visit a week); stops 3 and 4
    # of a commune that takes two visits, never two the same day.
    costs = {(1,): -50, (2,): -50, (3,): -40, (4,): -40, (5,): -1}
    groups = Groups(group=[-1, 0, 0, 1, 1, -1], cap=[1, 2], day=[0, 0, 0, 1])
    pool = RoutePool(profile=[0, 0, 0, 1])  # vehicles 0-2 on day 0, 3 on day 1
    pool.add([[2], [4], [], [3]])
    found = recombine(pool, _table(costs), groups, [[1], [5], [], []], time_limit_s=5)
    assert found is not None
    routes, objective = found
    served = [n for r in routes for n in r]
    assert sum(n in (1, 2) for n in served) == 1
    day_of = {n: groups.day[v] for v, r in enumerate(routes) for n in r}
    assert len({day_of[n] for n in served if n in (3, 4)}) == sum(n in (3, 4) for n in served)
    assert objective == -50 - 40 - 40 - 1  # one of 1/2, then 3 and 4 on different days, and 5


def test_nothing_better_gives_none_and_infeasible_routes_are_never_used() -> None:
    costs = {(1, 2): -100, (3,): -10, (1, 3): -500, (2, 3): -20}
    pool = RoutePool(profile=[0, 0])
    pool.add([[1, 3], []])  # priced infeasible below
    pool.add([[2, 3], []])  # feasible but no better than the incumbent
    found = recombine(
        pool, _table(costs, frozenset({(1, 3)})), _no_groups(4, [0, 0]), [[1, 2], [3]], time_limit_s=5
    )
    assert found is None


def test_the_pool_stops_growing_at_its_limit() -> None:
    pool = RoutePool(profile=[0], limit=3)
    for k in range(1, 10):
        pool.add([[k]])
    pool.add([[1]])
    assert len(pool) == 3


@pytest.mark.skipif(not available(), reason="compiled search not built")
def test_a_recombined_plan_is_feasible_and_priced_as_the_compiled_model_prices_it() -> None:
    improved = 0
    for seed in range(8):
        rng = random.Random(seed)
        data = _instance(rng, 60, 3, groups=seed % 2 == 1, capacity=25 if seed % 3 == 0 else None)
        fast = FastModel(data)
        pool = RoutePool(profile=fast.profile)
        plans = []
        for _ in range(30):  # short LNS runs: a descent from nothing, then five ruins of 40 %
            routes, objective, feasible = fast.descend([[] for _ in range(3)], rng.getrandbits(63))
            for _ in range(5):
                kept = [[u for u in r if rng.random() < 0.6] for r in routes]
                routes, objective, feasible = fast.descend(kept, rng.getrandbits(63))
                assert feasible
                pool.add(routes)
                plans.append((objective, routes))
        objective, incumbent = min(plans)
        groups = Groups(group=fast.group, cap=fast.group_cap, day=fast.day)
        found = recombine(pool, fast.route_costs, groups, incumbent, time_limit_s=5, seed=seed)
        if found is None:  # the best plan's routes may already be the best combination
            continue
        improved += 1
        routes, mixed = found
        assert mixed < objective
        assert fast.evaluate(routes) == (mixed, True)
        priced = fast.route_costs([v for v, r in enumerate(routes) if r], [r for r in routes if r])
        assert all(ok for _, ok in priced) and sum(c for c, _ in priced) == mixed
    assert improved >= 4  # 5 of 8 when written: the checks above are not vacuous


@pytest.mark.skipif(not available(), reason="compiled search not built")
def test_route_costs_reject_bad_input() -> None:
    fast = FastModel(_instance(random.Random(1), 10, 2))
    with pytest.raises(ValueError, match="one vehicle per route"):
        fast.route_costs([0], [[1], [2]])
    with pytest.raises(ValueError, match="vehicles: 5 is out of range"):
        fast.route_costs([5], [[1]])
    with pytest.raises(ValueError, match="not a free customer"):
        fast.route_costs([0], [[1, 1]])
    assert fast.route_costs([], []) == []
