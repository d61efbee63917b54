"""Hard rules of the model, each on an instance built to provoke it."""

from __future__ import annotations

import pytest

from routing.params import SolveParams
from routing.problem import Break, Problem, Shift, TimeWindow
from routing.result import SolveStatus, UnservedReason
from routing.solver import solve
from tests.unit.routing.builders import DAY, bus, car, cand, crew, hm, loc, shift, site, window
from tests.unit.routing.checker import assert_feasible


def test_stop_starts_and_ends_inside_one_opening_window(greedy: SolveParams) -> None:
    mairie = site(1, 5, 5, opening={2: [window("09:00", "11:00"), window("14:00", "16:30")]})
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=tuple(shift(1, d) for d in range(5)),
        candidates=(cand(1, mairie, duration=150),),
    )

    plan = solve(problem, greedy)

    (visit,) = plan.visits
    assert visit.day == 2
    assert hm("14:00") <= visit.start - 2 * DAY and visit.end - 2 * DAY <= hm("16:30")
    assert_feasible(problem, plan)


def test_vehicle_of_a_day_only_serves_that_days_windows(greedy: SolveParams) -> None:
    thursday_only = site(1, 4, 2, opening={3: [window("08:00", "18:00")]})
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0), shift(1, 3)),
        candidates=(cand(1, thursday_only),),
    )

    plan = solve(problem, greedy)

    assert [r.day for r in plan.routes] == [3]
    assert_feasible(problem, plan)


def test_skilled_candidate_goes_to_the_route_whose_crew_has_the_skill(greedy: SolveParams) -> None:
    depot = loc(1)
    problem = Problem(
        resources=(bus(1, depot), bus(2, depot)),
        shifts=(shift(1, 0, the_crew=crew((1, {"caf"}))), shift(2, 0, the_crew=crew((2, {"ants"}), (3, {"caf"})))),
        candidates=(cand(1, site(1, 3, 3), skills={"ants", "caf"}), cand(2, site(2, -3, 3), prize=2)),
    )

    plan = solve(problem, greedy)

    assert plan.route(2, 0) is not None and 1 in [v.candidate_id for v in plan.route(2, 0).visits]
    assert_feasible(problem, plan)


def test_daily_driving_limit_spreads_far_communes_over_days(greedy: SolveParams) -> None:
    far = [site(i, 30 * (1 if i % 2 else -1), 5 * i) for i in range(1, 5)]
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=tuple(shift(1, d, max_driving=110) for d in range(4)),
        candidates=tuple(cand(s.id, s, duration=60) for s in far),
    )

    plan = solve(problem, SolveParams(time_limit_s=1))

    assert len(plan.visits) == 4
    assert all(r.driving_min <= 110 for r in plan.routes)
    assert len(plan.routes) >= 2
    assert_feasible(problem, plan)


def test_lunch_break_fits_between_stops_and_never_overlaps_them(greedy: SolveParams) -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="09:00", end="17:00", lunch=Break(window=window("11:30", "13:30"), duration=60)),),
        candidates=(cand(1, site(1, 2, 2), duration=180), cand(2, site(2, -2, 3), duration=180)),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    (route,) = plan.routes
    assert len(route.visits) == 2
    first, second = sorted(route.visits, key=lambda v: v.start)
    assert route.lunch is not None
    assert first.end <= route.lunch[0] and route.lunch[1] <= second.start
    assert_feasible(problem, plan)


def test_one_stop_per_commune_per_week_by_default(greedy: SolveParams) -> None:
    mairie = site(1, 3, 3, commune=77)
    place = site(2, 3.5, 3.2, commune=77)
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0), shift(1, 1)),
        candidates=(cand(1, mairie, prize=3), cand(2, place, prize=5)),
    )

    plan = solve(problem, greedy)

    assert [v.candidate_id for v in plan.visits] == [2]
    assert plan.unserved_reason(1) is UnservedReason.COMMUNE_VISITED
    assert_feasible(problem, plan)


def test_max_visits_allows_copies_on_different_days() -> None:
    busy_town = site(1, 3, 3)
    problem = Problem(
        resources=(car(1, loc(1)), car(2, loc(2, 1, 1))),
        shifts=(shift(1, 0), shift(2, 0), shift(1, 1), shift(2, 2)),
        candidates=(cand(1, busy_town, duration=180, prize=6, max_visits=3),),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    visits = plan.visits_of(1)
    assert len(visits) == 3
    assert sorted(v.visit_index for v in visits) == [0, 1, 2]
    # stops of one day are one route's (a full day there), never two cars at once
    by_day: dict[int, set[int]] = {}
    for route in plan.routes:
        for v in route.visits:
            by_day.setdefault(route.day, set()).add(route.resource_id)
    assert all(len(resources) == 1 for resources in by_day.values())
    assert_feasible(problem, plan)


def test_a_full_day_is_two_stops_of_one_route_with_lunch_between() -> None:
    # One car, one day, a town open all day: the morning and the afternoon there.
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="08:30", end="17:30"),),
        candidates=(cand(1, site(1, 3, 3), duration=180, prize=6, max_visits=2),),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    (route,) = plan.routes
    assert [v.candidate_id for v in route.visits] == [1, 1]
    first, second = route.visits
    assert route.lunch is not None
    assert first.end <= route.lunch[0] and route.lunch[1] <= second.start
    assert_feasible(problem, plan)


def test_two_routes_never_serve_one_commune_on_the_same_day() -> None:
    # Two cars on Monday only: the second stop in town would need the other car the same day.
    problem = Problem(
        resources=(car(1, loc(1)), car(2, loc(2, 3, 3))),
        shifts=(shift(1, 0, start="08:30", end="12:30", lunch=None), shift(2, 0, start="08:30", end="12:30", lunch=None)),
        candidates=(
            cand(1, site(1, 3, 3, commune=5), duration=180, prize=6, max_visits=2),
            cand(2, site(2, 3, 3.1, commune=5), duration=180, prize=6),
        ),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    assert len(plan.visits) == 1
    assert plan.unserved_reason(1 if plan.visits[0].candidate_id == 2 else 2) is not None
    assert_feasible(problem, plan)



@pytest.mark.parametrize("strategy", ["lns", "ortools"])
def test_one_visit_of_a_two_visit_commune_is_worth_its_prize(strategy: str) -> None:
    # Only one half-day in the week: the second visit cannot happen, the first still counts.
    # (OR-Tools' default disjunction cost charged the penalty once while fewer than two
    # visits were served, so the search left such communes out altogether.)
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="08:30", end="12:30", lunch=None),),
        candidates=(cand(1, site(1, 3, 3), duration=120, prize=5, max_visits=2),),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5, strategy=strategy))

    assert len(plan.visits_of(1)) == 1
    assert plan.objective is not None
    assert_feasible(problem, plan)


def test_commune_with_a_multi_visit_candidate_is_served_by_one_route_a_day() -> None:
    problem = Problem(
        resources=(car(1, loc(1)), car(2, loc(2))),
        shifts=(shift(1, 0), shift(2, 0), shift(1, 1)),
        candidates=(
            cand(1, site(1, 3, 3, commune=5), prize=4, max_visits=2),
            cand(2, site(2, 4, 2, commune=5), prize=3),
        ),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    stops = [(route.day, route.resource_id) for route in plan.routes for _ in route.visits]
    assert len(stops) == 2
    assert all(len({r for d, r in stops if d == day}) == 1 for day, _ in stops)
    assert_feasible(problem, plan)


def test_mandatory_candidate_beats_more_valuable_ones() -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="09:00", end="12:30", lunch=None),),
        candidates=(
            cand(1, site(1, 2, 2), duration=180, prize=9),
            cand(2, site(2, -2, 2), duration=180, prize=0.5, mandatory=True),
        ),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    assert plan.status is SolveStatus.FEASIBLE
    assert [v.candidate_id for v in plan.visits] == [2]
    assert plan.unserved_reason(1) is UnservedReason.NOT_WORTH_IT
    assert_feasible(problem, plan)


def test_two_mandatory_candidates_that_cannot_both_fit_are_reported() -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="09:00", end="12:30", lunch=None),),
        candidates=(
            cand(1, site(1, 2, 2), duration=180, mandatory=True),
            cand(2, site(2, -2, 2), duration=180, mandatory=True),
        ),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    assert plan.status is SolveStatus.INFEASIBLE_INPUT and not plan.is_feasible()
    (missing,) = plan.unserved
    assert missing.mandatory and missing.reason is UnservedReason.NO_ROOM
    assert any("mandatory" in m for m in plan.messages)
    assert_feasible(problem, plan)


def test_route_leaves_and_returns_to_its_own_start_and_end(greedy: SolveParams) -> None:
    home = loc(5, 10, 0)
    office = loc(6, -10, 0)
    counsellor = car(1, home)
    counsellor = type(counsellor)(id=1, kind=counsellor.kind, start=home, end=office, cost_per_km=30)
    problem = Problem(
        resources=(counsellor,),
        shifts=(shift(1, 0),),
        candidates=(cand(1, site(1, 0, 5)),),
    )

    plan = solve(problem, greedy)

    (route,) = plan.routes
    assert (route.start_location_id, route.end_location_id) == (5, 6)
    assert route.legs[0].from_location_id == 5 and route.legs[-1].to_location_id == 6
    assert_feasible(problem, plan)


def test_bus_day_without_crew_is_not_used_and_explained(greedy: SolveParams) -> None:
    problem = Problem(
        resources=(bus(1, loc(1)),),
        shifts=(shift(1, 0), shift(1, 1, the_crew=crew((1, ())))),
        candidates=(cand(1, site(1, 2, 2), ),),
    )

    plan = solve(problem, greedy)

    assert [r.day for r in plan.routes] == [1]
    assert any("no crew" in m for m in plan.messages)
    assert_feasible(problem, plan)


def test_shift_window_bounds_the_whole_route(greedy: SolveParams) -> None:
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="13:00", end="17:00", lunch=None),),
        candidates=(cand(1, site(1, 15, 0), duration=180), cand(2, site(2, -15, 0), duration=60)),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    (route,) = plan.routes
    assert route.start >= hm("13:00") and route.end <= hm("17:00")
    assert_feasible(problem, plan)
    assert TimeWindow(hm("13:00"), hm("17:00")).contains(route.visits[0].start)


def test_a_second_stop_worth_less_leaves_room_for_a_first_stop_elsewhere() -> None:
    # One car, one day: the town's second half-day (worth 2) loses to the village's first (3),
    # although the town's first stop is worth more than both.
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0, start="08:30", end="17:30"),),
        candidates=(
            cand(1, site(1, 2, 0, commune=1), duration=180, prize=6, max_visits=2, prizes_by_desks={1: (6, 2)}),
            cand(2, site(2, 4, 0, commune=2), duration=180, prize=3),
        ),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    assert sorted(v.candidate_id for v in plan.visits) == [1, 2]
    assert_feasible(problem, plan)


def test_a_stop_is_worth_the_people_the_route_day_can_see() -> None:
    # The bus (two desks) and the car (one) each make one stop: the bus goes where two desks
    # serve more people, although the car is closer to it.
    town = cand(1, site(1, 1, 0, commune=1), duration=180, prize=6, prizes_by_desks={1: (6,), 2: (12,)})
    village = cand(2, site(2, 6, 0, commune=2), duration=180, prize=5, prizes_by_desks={1: (5,), 2: (5,)})
    problem = Problem(
        resources=(car(1, loc(1)), bus(2, loc(2, 6, 0))),
        shifts=(
            shift(1, 0, start="08:30", end="12:30", lunch=None),
            Shift(resource_id=2, day=0, window=window("08:30", "12:30"), lunch=None, crew=crew((7, ()), (8, ())), desks=2),
        ),
        candidates=(town, village),
    )

    plan = solve(problem, SolveParams(time_limit_s=0.5))

    where = {v.candidate_id: route.resource_id for route in plan.routes for v in route.visits}
    assert where == {1: 2, 2: 1}
    assert_feasible(problem, plan)
