"""Load and capacity: ``Candidate.load`` summed per route-day within ``Shift.capacity``."""

from __future__ import annotations

from routing.params import SolveParams
from routing.precheck import prepare
from routing.problem import Pin, Problem
from routing.result import SolveStatus, UnservedReason
from routing.model import Model
from routing.solver import solve
from tests.unit.routing.builders import cand, car, loc, shift, site, window
from tests.unit.routing.checker import assert_feasible


def _three_loads(capacity: int | None) -> Problem:
    """Two counsellors from one home on Monday; three close stops with loads 4, 5 and 6."""
    home = loc(1)
    return Problem(
        resources=(car(1, home), car(2, home)),
        shifts=(shift(1, 0, capacity=capacity), shift(2, 0, capacity=capacity)),
        candidates=(
            cand(1, site(1, 3, 0), duration=60, load=4, mandatory=True),
            cand(2, site(2, 4, 2), duration=60, load=5, mandatory=True),
            cand(3, site(3, 2, 3), duration=60, load=6, mandatory=True),
        ),
    )


def test_without_capacity_one_route_takes_every_stop(quick: SolveParams) -> None:
    problem = _three_loads(None)

    plan = solve(problem, quick)

    assert_feasible(problem, plan)
    assert [r.load for r in plan.routes] == [15]


def test_capacity_forces_a_second_route(quick: SolveParams) -> None:
    problem = _three_loads(10)

    plan = solve(problem, quick)

    assert_feasible(problem, plan)
    assert plan.status is SolveStatus.FEASIBLE and not plan.unserved
    assert len(plan.routes) == 2
    assert sum(r.load for r in plan.routes) == 15
    assert all(r.load <= 10 for r in plan.routes)


def test_full_route_leaves_the_least_valuable_heavy_stop_out(quick: SolveParams) -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, capacity=10),),
        candidates=(
            cand(1, site(1, 3, 0), duration=60, prize=5, load=6),
            cand(2, site(2, 4, 2), duration=60, prize=3, load=6),
            cand(3, site(3, 2, 3), duration=60, prize=1, load=4),
        ),
    )

    plan = solve(problem, quick)

    assert_feasible(problem, plan)
    assert {v.candidate_id for v in plan.visits} == {1, 3}
    assert plan.routes[0].load == 10
    (u,) = plan.unserved
    assert u.candidate_id == 2 and u.reason is UnservedReason.OVER_CAPACITY
    assert "load 6" in u.detail


def test_each_visit_of_a_candidate_counts(quick: SolveParams) -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=tuple(shift(1, d, capacity=5) for d in (0, 1)),
        candidates=(
            cand(1, site(1, 3, 0), duration=60, prize=5, load=4, max_visits=2),
            cand(2, site(2, 4, 2), duration=60, prize=1, load=3),
        ),
    )

    plan = solve(problem, quick)

    assert_feasible(problem, plan)
    assert len(plan.visits_of(1)) == 2  # one visit a day: 4 + 3 would overflow either day
    assert plan.unserved_reason(2) is UnservedReason.OVER_CAPACITY


def test_candidate_heavier_than_every_capacity_is_over_capacity_before_solving(greedy: SolveParams) -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, capacity=5), shift(1, 1, capacity=7)),
        candidates=(cand(1, site(1, 2, 2), load=8, mandatory=True), cand(2, site(2, 3, 1), load=7)),
    )

    prep = prepare(problem)
    assert [u.candidate_id for u in prep.unserved] == [1]
    assert prep.unserved[0].reason is UnservedReason.OVER_CAPACITY
    assert {s.candidate.id: sorted(s.options) for s in prep.nodes} == {2: [1]}  # Tuesday only

    plan = solve(problem, greedy)

    assert_feasible(problem, plan)
    assert plan.unserved_reason(1) is UnservedReason.OVER_CAPACITY
    detail = plan.unserved[0].detail
    assert "load 8" in detail and "largest: 7" in detail
    assert plan.status is SolveStatus.INFEASIBLE_INPUT  # it was mandatory
    assert plan.route(1, 1) is not None and plan.route(1, 1).load == 7


def test_time_rules_come_before_the_capacity(greedy: SolveParams) -> None:
    # Open on Monday only, where the route is too small; Tuesday has room but the site is closed.
    monday = {0: [window("08:00", "18:00")]}
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, capacity=2), shift(1, 1)),
        candidates=(cand(1, site(1, 2, 2, opening=monday), load=3), cand(2, site(2, 2, 1, opening={}), load=3)),
    )

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.OVER_CAPACITY
    assert plan.unserved_reason(2) is UnservedReason.OUTSIDE_OPENING_HOURS


def test_pin_onto_a_route_day_too_small_is_infeasible(greedy: SolveParams) -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, capacity=2), shift(1, 1)),
        candidates=(cand(1, site(1, 2, 2), load=3),),
        pins=(Pin(candidate_id=1, resource_id=1, day=0),),
    )

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.INFEASIBLE_PIN
    assert "capacity 2" in plan.unserved[0].detail
    assert plan.status is SolveStatus.INFEASIBLE_INPUT


def test_the_load_dimension_exists_only_when_a_load_meets_a_capacity(three_communes: Problem) -> None:
    def has_load(problem: Problem) -> bool:
        return "load" in Model(problem, prepare(problem), SolveParams()).routing.GetAllDimensionNames()

    assert not has_load(three_communes)
    assert not has_load(_three_loads(None))  # loads, no capacity
    assert has_load(_three_loads(10))
