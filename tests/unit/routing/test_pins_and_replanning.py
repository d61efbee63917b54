"""Pins force a stop; re-plans warm-start, keep what happened and move as little as possible."""

from __future__ import annotations

import dataclasses

from routing.params import SolveParams
from routing.problem import HalfDay, Pin, Problem
from routing.result import SolveStatus
from routing.solver import solve
from tests.unit.routing.builders import DAY, hm
from tests.unit.routing.checker import assert_feasible


def test_pin_forces_resource_day_and_half_day(valley_week: Problem, quick: SolveParams) -> None:
    pin = Pin.at_half_day(candidate_id=9, resource_id=2, day=4, half=HalfDay.AFTERNOON)
    problem = dataclasses.replace(valley_week, pins=(pin,))

    plan = solve(problem, SolveParams(time_limit_s=1))

    (visit,) = plan.visits_of(9)
    route = next(r for r in plan.routes if visit in r.visits)
    assert (route.resource_id, route.day) == (2, 4)
    assert visit.start - 4 * DAY >= hm("12:00") and visit.pinned
    assert plan.status is SolveStatus.FEASIBLE
    assert_feasible(problem, plan)


def test_warm_start_from_the_previous_plan_reproduces_it(valley_week: Problem) -> None:
    params = SolveParams(time_limit_s=1)
    first = solve(valley_week, params)

    again = solve(valley_week, params, initial=first)

    assert again.objective is not None and first.objective is not None
    assert again.objective <= first.objective
    placed = {(v.candidate_id, v.day) for v in first.visits}
    kept = {(v.candidate_id, v.day) for v in again.visits}
    assert len(placed & kept) >= len(placed) - 1
    assert_feasible(valley_week, again)


def test_replan_after_a_breakdown_keeps_other_days_in_place(valley_week: Problem) -> None:
    params = SolveParams(time_limit_s=1.5)
    before = solve(valley_week, params)
    broken = max(before.routes, key=lambda r: len(r.visits))
    problem = dataclasses.replace(
        valley_week, shifts=tuple(s for s in valley_week.shifts if (s.resource_id, s.day) != (broken.resource_id, broken.day))
    )

    after = solve(problem, params, initial=before)

    assert_feasible(problem, after)
    untouched = [v for r in before.routes if r is not broken for v in r.visits]
    still = {(v.candidate_id, v.day) for v in after.visits}
    moved = [v for v in untouched if (v.candidate_id, v.day) not in still]
    assert len(moved) <= 1, moved
    orphans = {v.candidate_id for v in broken.visits}
    served_again = orphans & {v.candidate_id for v in after.visits}
    assert served_again, "the broken route's stops should be re-placed where room allows"


def test_replan_from_a_point_in_time_freezes_stops_already_made(valley_week: Problem) -> None:
    params = SolveParams(time_limit_s=1)
    before = solve(valley_week, params)
    point = 1 * DAY + hm("11:00")  # Tuesday 11:00
    problem = dataclasses.replace(
        valley_week,
        frozen_before=point,
        candidates=tuple(dataclasses.replace(c, prize=c.prize * (3 if c.id % 2 else 1)) for c in valley_week.candidates),
    )
    frozen = [
        (v.candidate_id, r.resource_id, r.day, v.start) for r in before.routes for v in r.visits if v.start < point
    ]
    assert frozen

    after = solve(problem, params, initial=before)

    assert_feasible(problem, after, frozen=frozen)
    assert all(v.frozen == (v.start < point) for v in after.visits)
    new_before_point = [v for v in after.visits if v.start < point and not v.frozen]
    assert new_before_point == []


def test_frozen_stop_whose_route_day_was_removed_is_reported(three_communes: Problem, quick: SolveParams) -> None:
    before = solve(three_communes, quick)
    first = min(before.visits, key=lambda v: v.start)
    problem = dataclasses.replace(three_communes, shifts=(), frozen_before=first.start + 1)

    after = solve(problem, quick, initial=before)

    assert after.status is SolveStatus.INFEASIBLE_INPUT
    assert after.routes == ()


def test_previous_plan_that_no_longer_fits_falls_back_to_a_fresh_search(three_communes: Problem, quick: SolveParams) -> None:
    before = solve(three_communes, quick)
    shorter = dataclasses.replace(
        three_communes,
        candidates=tuple(dataclasses.replace(c, duration=200) for c in three_communes.candidates),
    )

    after = solve(shorter, quick, initial=before)

    assert after.is_feasible()
    assert any("searched from scratch" in m for m in after.messages)
    assert_feasible(shorter, after)


def test_a_pin_takes_the_only_stop_of_its_commune_from_mandatory_rivals(quick: SolveParams) -> None:
    """Found by the property test: a commune allowed one stop, one candidate pinned, seven
    others at the same square mandatory. The pin's stop is made; the others are reported,
    never served beside it (the commune's cap holds even with every visit number taken)."""
    from tests.unit.routing.builders import car, cand, loc, shift, site

    resources = tuple(car(r, loc(r)) for r in (1, 2, 3))
    shifts = tuple(
        shift(r, d, start="08:00", end="12:30") for r, d in ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    )
    candidates = tuple(
        cand(i, site(i, 0, 0, commune=1), duration=60, prize=0, mandatory=True, max_visits=1) for i in range(1, 9)
    )
    problem = Problem(
        resources=resources,
        shifts=shifts,
        candidates=candidates,
        pins=(Pin.at_half_day(candidate_id=1, resource_id=1, day=0, half=HalfDay.MORNING),),
    )

    plan = solve(problem, quick)

    assert_feasible(problem, plan)
    assert [v.candidate_id for v in plan.visits] == [1]
    assert plan.status is SolveStatus.INFEASIBLE_INPUT
    assert {u.candidate_id for u in plan.unserved} == set(range(2, 9))


def test_a_full_day_can_be_pinned_morning_and_afternoon(quick: SolveParams) -> None:
    """A bourg's full day (two stops of one candidate on one route-day) stays where it is when
    both halves are pinned; pinning it to two routes the same day is a contradiction."""
    from tests.unit.routing.builders import car, cand, loc, shift, site

    bourg = cand(1, site(1, 3, 0, commune=1), duration=150, prize=5, max_visits=2)
    village = cand(2, site(2, 6, 0, commune=2), duration=150, prize=9)
    problem = Problem(
        resources=(car(1, loc(1)), car(2, loc(2))),
        shifts=(shift(1, 0, start="08:00", end="18:00"), shift(2, 0, start="08:00", end="18:00")),
        candidates=(bourg, village),
        pins=(
            Pin.at_half_day(candidate_id=1, resource_id=1, day=0, half=HalfDay.MORNING),
            Pin.at_half_day(candidate_id=1, resource_id=1, day=0, half=HalfDay.AFTERNOON),
        ),
    )

    plan = solve(problem, quick)

    assert_feasible(problem, plan)
    full_day = [v for v in plan.visits if v.candidate_id == 1]
    assert len(full_day) == 2 and {v.pinned for v in full_day} == {True}
    assert full_day[0].start < 12 * 60 <= full_day[1].start
    assert plan.status is not SolveStatus.INFEASIBLE_INPUT

    split = dataclasses.replace(
        problem, pins=(problem.pins[0], Pin.at_half_day(candidate_id=1, resource_id=2, day=0, half=HalfDay.AFTERNOON))
    )
    contradiction = solve(split, quick)
    assert contradiction.status is SolveStatus.INFEASIBLE_INPUT
    assert any("already pinned to resource 1 that day" in m for m in contradiction.messages)
