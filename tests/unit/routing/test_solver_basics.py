"""The planner serves what fits and reports a complete, consistent timetable."""

from __future__ import annotations

from routing.params import SolveParams
from routing.problem import Problem
from routing.result import SolveStatus
from routing.solver import solve
from tests.unit.routing.builders import DAY, hm
from tests.unit.routing.checker import assert_feasible


def test_all_three_communes_are_served_in_one_day(three_communes: Problem, quick: SolveParams) -> None:
    plan = solve(three_communes, quick)

    assert plan.is_feasible()
    assert {v.candidate_id for v in plan.visits} == {1, 2, 3}
    assert plan.unserved == ()
    assert_feasible(three_communes, plan)


def test_route_reports_times_km_driving_and_lunch(three_communes: Problem, quick: SolveParams) -> None:
    plan = solve(three_communes, quick)

    (route,) = plan.routes
    assert route.day == 0 and route.resource_id == 1 and route.crew_ids == (11,)
    assert route.lunch is not None and route.lunch[1] - route.lunch[0] == 45
    assert hm("12:00") <= route.lunch[0] and route.lunch[1] <= hm("14:00")
    assert route.km > 0 and route.driving_min == sum(leg.drive_min for leg in route.legs)
    assert route.cost == round(route.metres * 60 / 1000)
    assert hm("08:30") <= route.start < route.end <= hm("17:30")
    for visit in route.visits:
        assert visit.arrive <= visit.start < visit.end


def test_valley_week_plan_respects_every_hard_rule(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=2))

    assert plan.status is SolveStatus.FEASIBLE
    assert_feasible(valley_week, plan)
    assert len(plan.visits) >= 12


def test_market_day_bonus_pulls_the_stop_to_the_market_day(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=2))

    (visit,) = plan.visits_of(2)
    assert visit.day == 2 and visit.start // DAY == 2
    # prize 6 boosted by 2 weeks without a visit (x1.2), plus the 2.0 market bonus
    assert visit.prize == 6 * 1.2 + 2.0


def test_empty_candidate_list_gives_an_empty_optimal_plan(three_communes: Problem, quick: SolveParams) -> None:
    problem = Problem(resources=three_communes.resources, shifts=three_communes.shifts, candidates=())

    plan = solve(problem, quick)

    assert plan.status is SolveStatus.OPTIMAL and plan.routes == () and plan.unserved == ()
