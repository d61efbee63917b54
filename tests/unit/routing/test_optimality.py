"""On tiny instances the planner collects the best total prize an exhaustive search finds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.params import SolveParams
from routing.problem import Break, Problem
from routing.solver import solve
from tests.unit.routing.bruteforce import best_prize
from tests.unit.routing.builders import bus, car, cand, crew, loc, shift, site, window
from tests.unit.routing.checker import assert_feasible

TINY = SolveParams(time_limit_s=0.5)


def _served_prize(problem: Problem, params: SolveParams = TINY) -> tuple[float, float]:
    plan = solve(problem, params)
    assert_feasible(problem, plan)
    return sum(v.prize for v in plan.visits), best_prize(problem)


def test_tight_day_optimum_matches_brute_force() -> None:
    """One morning-heavy day: six candidates of which only some combinations fit."""
    mornings = {0: [window("08:30", "12:30")]}
    problem = Problem(
        resources=(car(1, loc(1)),),
        shifts=(shift(1, 0),),
        candidates=(
            cand(1, site(1, 3, 2, opening=mornings), duration=180, prize=5),
            cand(2, site(2, -4, 1, opening=mornings), duration=120, prize=3),
            cand(3, site(3, 2, -5), duration=120, prize=3),
            cand(4, site(4, 8, 8), duration=180, prize=4),
            cand(5, site(5, -9, -3), duration=60, prize=1),
            cand(6, site(6, 1, 1, opening={0: [window("15:00", "17:30")]}), duration=120, prize=2.5),
        ),
    )

    served, best = _served_prize(problem)

    assert served == best


def test_two_vehicles_with_skills_optimum_matches_brute_force() -> None:
    """A bus and a car on one day, skills splitting who can go where, one shared commune."""
    depot = loc(1)
    problem = Problem(
        resources=(bus(1, depot), car(2, loc(2, 12, 6), skills={"ants"})),
        shifts=(
            shift(1, 0, the_crew=crew((1, {"caf"})), max_driving=60),
            shift(2, 0, start="09:00", end="13:00", lunch=None),
        ),
        candidates=(
            cand(1, site(1, 5, 5), duration=180, prize=4, skills={"caf"}),
            cand(2, site(2, 10, 3), duration=120, prize=3, skills={"ants"}),
            cand(3, site(3, -6, 2), duration=120, prize=2),
            cand(4, site(4, 14, 9, commune=3), duration=60, prize=2.5),
            cand(5, site(5, -12, -12), duration=180, prize=3),
            cand(6, site(6, 4, -8), duration=120, prize=2, weeks_since_visit=5),
            cand(7, site(7, 11, 8), duration=60, prize=1),
        ),
    )

    served, best = _served_prize(problem)

    assert served == best


@st.composite
def tiny_territories(draw: st.DrawFn) -> Problem:
    """1-2 cars over 1-2 days and up to 6 candidates within 25 km (no pins, one visit each)."""
    n_cars = draw(st.integers(1, 2))
    n_days = draw(st.integers(1, 2))
    resources = tuple(car(r, loc(r, draw(st.integers(-10, 10)), draw(st.integers(-10, 10)))) for r in range(1, n_cars + 1))
    shifts = []
    for r in range(1, n_cars + 1):
        for d in range(n_days):
            start = draw(st.sampled_from(["08:00", "08:30", "09:00"]))
            end = draw(st.sampled_from(["12:30", "16:00", "17:30"]))
            lunch = draw(st.sampled_from([None, Break(), Break(window=window("11:45", "14:00"), duration=60)]))
            shifts.append(shift(r, d, start=start, end=end, lunch=lunch, max_driving=draw(st.sampled_from([None, 60, 120]))))
    candidates = []
    for i in range(1, draw(st.integers(2, 6)) + 1):
        opening = draw(
            st.sampled_from(
                [None, {0: [window("09:00", "12:00")], 1: [window("14:00", "17:00")]}, {d: [window("08:30", "12:30"), window("13:30", "17:30")] for d in range(2)}]
            )
        )
        s = site(i, draw(st.integers(-25, 25)), draw(st.integers(-25, 25)), opening=opening, commune=draw(st.integers(1, 5)))
        candidates.append(
            cand(i, s, duration=draw(st.sampled_from([60, 120, 180])), prize=draw(st.integers(1, 6)))
        )
    return Problem(resources=resources, shifts=tuple(shifts), candidates=tuple(candidates))


@settings(max_examples=12, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=tiny_territories())
def test_random_tiny_territories_reach_the_brute_force_optimum(problem: Problem) -> None:
    served, best = _served_prize(problem, SolveParams(time_limit_s=0.4))

    assert abs(served - best) < 1e-6
