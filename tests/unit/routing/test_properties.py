"""Property-based: on small random territories every plan passes the independent checker."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.params import SolveParams
from routing.problem import Break, HalfDay, Pin, Problem
from routing.result import SolveStatus
from routing.solver import solve
from tests.unit.routing.builders import bus, car, cand, crew, loc, shift, site, window

SKILLS = ("ants", "caf", "impots")


@st.composite
def territories(draw: st.DrawFn) -> Problem:
    """Up to 3 resources (buses with or without crew, cars) over up to 3 days, 1-8 candidates.

    Some shifts have a capacity and most candidates a load, so the load dimension and the
    ``OVER_CAPACITY`` explanations are exercised too.
    """
    resources = []
    shifts = []
    for r in range(1, draw(st.integers(1, 3)) + 1):
        home = loc(r, draw(st.integers(-15, 15)), draw(st.integers(-15, 15)))
        own_skills = draw(st.sets(st.sampled_from(SKILLS), max_size=2))
        is_bus = draw(st.booleans())
        resources.append(bus(r, home) if is_bus else car(r, home, skills=own_skills))
        for d in draw(st.sets(st.integers(0, 2), min_size=1, max_size=3)):
            team = None
            if is_bus and draw(st.integers(0, 4)) > 0:
                team = crew((10 * r + d, draw(st.sets(st.sampled_from(SKILLS), max_size=3))))
            shifts.append(
                shift(
                    r,
                    d,
                    start=draw(st.sampled_from(["08:00", "08:30", "09:00", "11:00"])),
                    end=draw(st.sampled_from(["12:30", "17:00", "18:00"])),
                    the_crew=team,
                    lunch=draw(st.sampled_from([None, Break(), Break(window=window("11:30", "14:00"), duration=60)])),
                    max_driving=draw(st.sampled_from([None, 45, 90, 150])),
                    capacity=draw(st.sampled_from([None, None, 2, 5])),
                )
            )
            if team is not None and draw(st.booleans()):  # two desks staffed
                shifts[-1] = dataclasses.replace(shifts[-1], desks=2)
    candidates = []
    for i in range(1, draw(st.integers(1, 8)) + 1):
        opening = draw(
            st.sampled_from(
                [
                    None,
                    {0: [window("09:00", "12:00")], 2: [window("14:00", "17:00")]},
                    {d: [window("08:30", "12:30"), window("13:30", "17:30")] for d in range(3)},
                    {1: [window("10:00", "16:00")]},
                ]
            )
        )
        s = site(
            i,
            draw(st.integers(-40, 40)),
            draw(st.integers(-40, 40)),
            opening=opening,
            commune=draw(st.integers(1, 6)),
            market_days=draw(st.sets(st.integers(0, 2), max_size=1)),
        )
        candidates.append(
            cand(
                i,
                s,
                duration=draw(st.sampled_from([60, 120, 180, 240])),
                prize=draw(st.integers(0, 8)),
                weeks_since_visit=draw(st.integers(0, 10)),
                mandatory=draw(st.integers(0, 5)) == 0,
                max_visits=draw(st.sampled_from([1, 1, 1, 2, 4])),  # 2-4: full days in a bourg
                prizes_by_desks=draw(st.sampled_from([{}, {1: (6.0, 3.0, 3.0, 3.0), 2: (12.0, 6.0, 6.0, 6.0)}])),
                skills=draw(st.sets(st.sampled_from(SKILLS), max_size=1)),
                market_bonus=draw(st.sampled_from([0.0, 1.5])),
                load=draw(st.sampled_from([0, 1, 3])),
            )
        )
    pins = []
    if draw(st.booleans()) and shifts:
        target = draw(st.sampled_from(shifts))
        pins.append(
            Pin.at_half_day(
                candidate_id=draw(st.integers(1, len(candidates))),
                resource_id=target.resource_id,
                day=target.day,
                half=draw(st.sampled_from(list(HalfDay))),
            )
        )
    return Problem(resources=tuple(resources), shifts=tuple(shifts), candidates=tuple(candidates), pins=tuple(pins))


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=territories())
def test_every_plan_passes_the_independent_checker(problem: Problem) -> None:
    from tests.unit.routing.checker import assert_feasible

    plan = solve(problem, SolveParams(time_limit_s=0.3))

    assert plan.status is not SolveStatus.NO_SOLUTION
    assert_feasible(problem, plan)
    for u in plan.unserved:
        assert u.detail


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=territories())
def test_greedy_plans_pass_the_checker_too(problem: Problem) -> None:
    from tests.unit.routing.checker import assert_feasible

    plan = solve(problem, SolveParams(time_limit_s=1, use_guided_local_search=False, seed=7))

    assert_feasible(problem, plan)
