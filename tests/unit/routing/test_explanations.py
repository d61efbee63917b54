"""Every candidate left out gets a machine reason and an English detail; no traces."""

from __future__ import annotations

from routing.params import SolveParams
from routing.problem import Break, Pin, Problem, TimeWindow
from routing.result import SolveStatus, UnservedReason
from routing.solver import solve
from tests.unit.routing.builders import bus, car, cand, crew, loc, shift, site, window
from tests.unit.routing.checker import assert_feasible


def _one_car(*candidates, **shift_kw) -> Problem:  # type: ignore[no-untyped-def]
    return Problem(resources=(car(1, loc(1), skills={"caf"}),), shifts=(shift(1, 0, **shift_kw), shift(1, 1, **shift_kw)), candidates=candidates)


def test_candidate_needing_a_skill_nobody_has_is_no_skilled_crew(greedy: SolveParams) -> None:
    problem = _one_car(cand(1, site(1, 2, 2), skills={"impots"}), cand(2, site(2, 3, 1)))

    plan = solve(problem, greedy)

    (u,) = plan.unserved
    assert u.candidate_id == 1 and u.reason is UnservedReason.NO_SKILLED_CREW
    assert "impots" in u.detail
    assert plan.status is SolveStatus.FEASIBLE
    assert_feasible(problem, plan)


def test_site_closed_on_every_route_day_is_outside_opening_hours(greedy: SolveParams) -> None:
    problem = _one_car(cand(1, site(1, 2, 2, opening={4: [window("09:00", "17:00")]})))

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.OUTSIDE_OPENING_HOURS


def test_window_shorter_than_the_stop_is_outside_opening_hours(greedy: SolveParams) -> None:
    problem = _one_car(cand(1, site(1, 2, 2, opening={0: [window("09:00", "11:00")]}), duration=180))

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.OUTSIDE_OPENING_HOURS
    assert "180 min" in plan.unserved[0].detail


def test_stop_that_would_swallow_the_lunch_window_is_outside_opening_hours(greedy: SolveParams) -> None:
    problem = _one_car(cand(1, site(1, 1, 1), duration=420))

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.OUTSIDE_OPENING_HOURS
    assert "lunch" in plan.unserved[0].detail


def test_site_too_far_for_the_shift_is_unreachable(greedy: SolveParams) -> None:
    problem = _one_car(cand(1, site(1, 150, 80), duration=180))

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.UNREACHABLE


def test_site_beyond_the_driving_limit_is_unreachable(greedy: SolveParams) -> None:
    problem = _one_car(cand(1, site(1, 30, 0)), max_driving=40)

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.UNREACHABLE


def test_candidate_that_fits_but_loses_to_better_ones_is_not_worth_it() -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, lunch=Break(window=window("12:00", "14:00"), duration=45)),),
        candidates=tuple(cand(i, site(i, i, 1), duration=180, prize=i) for i in range(1, 5)),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    assert {v.candidate_id for v in plan.visits} == {3, 4}
    assert {u.candidate_id: u.reason for u in plan.unserved} == {
        1: UnservedReason.NOT_WORTH_IT,
        2: UnservedReason.NOT_WORTH_IT,
    }


def test_no_resource_at_all_is_infeasible_input_not_an_exception(greedy: SolveParams) -> None:
    problem = Problem(resources=(), shifts=(), candidates=(cand(1, site(1, 1, 1)),))

    plan = solve(problem, greedy)

    assert plan.status is SolveStatus.INFEASIBLE_INPUT
    assert plan.unserved_reason(1) is UnservedReason.NO_ROUTE
    assert any("no route-day" in m for m in plan.messages)


def test_all_resource_days_removed_is_infeasible_input(greedy: SolveParams) -> None:
    problem = Problem(resources=(car(1, loc(1)), bus(2, loc(1))), shifts=(), candidates=(cand(1, site(1, 1, 1)),))

    plan = solve(problem, greedy)

    assert plan.status is SolveStatus.INFEASIBLE_INPUT and plan.routes == ()
    assert plan.unserved_reason(1) is UnservedReason.NO_ROUTE


def test_buses_without_crew_only_is_infeasible_input_with_the_crew_message(greedy: SolveParams) -> None:
    problem = Problem(resources=(bus(1, loc(1)),), shifts=(shift(1, 0),), candidates=(cand(1, site(1, 1, 1)),))

    plan = solve(problem, greedy)

    assert plan.status is SolveStatus.INFEASIBLE_INPUT
    assert any("no crew" in m for m in plan.messages)


def test_pin_outside_opening_hours_is_explained(greedy: SolveParams) -> None:
    mornings = site(1, 2, 2, opening={0: [window("08:30", "12:30")]})
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0),),
        candidates=(cand(1, mornings), cand(2, site(2, 1, 3))),
        pins=(Pin(candidate_id=1, resource_id=1, day=0, start=window("14:00", "15:00")),),
    )

    plan = solve(problem, greedy)

    assert plan.status is SolveStatus.INFEASIBLE_INPUT
    assert plan.unserved_reason(1) is UnservedReason.INFEASIBLE_PIN
    assert "opening hours" in plan.unserved[0].detail
    assert [v.candidate_id for v in plan.visits] == [2]
    assert_feasible(problem, plan)


def test_pin_on_a_route_lacking_the_skill_is_explained(greedy: SolveParams) -> None:
    problem = Problem(
        resources=(bus(1, loc(1)), bus(2, loc(1))),
        shifts=(shift(1, 0, the_crew=crew((1, {"caf"}))), shift(2, 0, the_crew=crew((2, {"ants"})))),
        candidates=(cand(1, site(1, 2, 2), skills={"ants"}),),
        pins=(Pin(candidate_id=1, resource_id=1, day=0),),
    )

    plan = solve(problem, greedy)

    assert plan.status is SolveStatus.INFEASIBLE_INPUT
    (u,) = plan.unserved
    assert u.reason is UnservedReason.INFEASIBLE_PIN and "lacks ants" in u.detail


def test_pin_on_a_removed_day_is_explained(greedy: SolveParams) -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0),),
        candidates=(cand(1, site(1, 2, 2)),),
        pins=(Pin(candidate_id=1, resource_id=1, day=3),),
    )

    plan = solve(problem, greedy)

    assert plan.unserved_reason(1) is UnservedReason.INFEASIBLE_PIN
    assert "does not exist" in plan.unserved[0].detail


def test_two_pins_competing_for_the_same_morning_leave_one_explained() -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="08:30", end="12:30", lunch=None),),
        candidates=(cand(1, site(1, 2, 2), duration=180), cand(2, site(2, -2, 2), duration=180)),
        pins=(
            Pin(candidate_id=1, resource_id=1, day=0, start=TimeWindow(0, 1439)),
            Pin(candidate_id=2, resource_id=1, day=0),
        ),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    assert plan.status is SolveStatus.INFEASIBLE_INPUT
    (u,) = plan.unserved
    assert u.reason is UnservedReason.INFEASIBLE_PIN
    assert len(plan.visits) == 1
    assert_feasible(problem, plan)


def test_mandatory_candidate_that_nobody_can_reach_is_reported(greedy: SolveParams) -> None:
    problem = _one_car(cand(1, site(1, 200, 0), mandatory=True), cand(2, site(2, 1, 1)))

    plan = solve(problem, greedy)

    assert plan.status is SolveStatus.INFEASIBLE_INPUT
    (u,) = plan.unserved
    assert u.mandatory and u.reason is UnservedReason.UNREACHABLE
    assert any("mandatory candidate 1" in m for m in plan.messages)
