"""Small named territories, each simple enough to reason about by hand."""

from __future__ import annotations

import pytest

from routing.params import SolveParams
from routing.problem import Problem
from tests.unit.routing.builders import bus, car, cand, crew, loc, shift, site, window


@pytest.fixture
def quick() -> SolveParams:
    """Short search for small instances (guided local search, 0.5 s)."""
    return SolveParams(time_limit_s=0.5)


@pytest.fixture
def greedy() -> SolveParams:
    """Stops at the first local optimum: for tests that only need a feasible plan."""
    return SolveParams(time_limit_s=2, use_guided_local_search=False)


@pytest.fixture
def three_communes() -> Problem:
    """One crewed bus on Monday and three communes within 12 km: all three fit."""
    depot = loc(1)
    return Problem(
        resources=(bus(1, depot),),
        shifts=(shift(1, 0, the_crew=crew((11, {"caf"}))),),
        candidates=(
            cand(1, site(1, 5, 3), duration=120, prize=4),
            cand(2, site(2, -6, 8), duration=120, prize=5),
            cand(3, site(3, 10, -6), duration=120, prize=3),
        ),
    )


@pytest.fixture
def valley_week() -> Problem:
    """Two buses and one car counsellor over Mon-Fri, 14 communes with hours, markets and skills."""
    depot = loc(1)
    home = loc(2, 18, 10)
    mornings = {d: [window("08:30", "12:30")] for d in (1, 3)}
    split_days = {d: [window("09:00", "12:00"), window("14:00", "17:30")] for d in range(5)}
    sites = [
        site(1, 6, 4),
        site(2, -8, 9, market_days={2}),
        site(3, 12, -5, opening=mornings),
        site(4, 20, 14),
        site(5, -15, -10, opening=split_days),
        site(6, 3, 22),
        site(7, 25, 2),
        site(8, -22, 6, opening=split_days),
        site(9, 9, 15),
        site(10, -4, -18),
        site(11, 16, 25),
        site(12, -12, 20, opening=mornings),
        site(13, 28, -12),
        site(14, 0, 30),
    ]
    skills = {3: {"ants"}, 7: {"impots"}, 11: {"ants"}}
    candidates = tuple(
        cand(
            s.id,
            s,
            duration=180 if s.id % 3 == 0 else 120,
            prize=2 + (s.id * 7) % 5,
            skills=skills.get(s.id, ()),
            market_bonus=2.0 if s.id == 2 else 0.0,
            weeks_since_visit=s.id % 4,
        )
        for s in sites
    )
    crew_a = crew((21, {"caf", "impots"}), (22, {"cpam"}))
    crew_b = crew((23, {"caf"}), (24, {"msa"}))
    shifts = []
    for d in range(5):
        shifts.append(shift(1, d, the_crew=crew_a, max_driving=180))
        if d != 2:  # bus 2 has no crew on Wednesday: the app removed that day
            shifts.append(shift(2, d, the_crew=crew_b, max_driving=180))
        if d in (0, 1, 3):
            shifts.append(shift(3, d, start="09:00", end="17:00", max_driving=150))
    return Problem(
        resources=(bus(1, depot), bus(2, depot), car(3, home, skills={"ants", "caf"})),
        shifts=tuple(shifts),
        candidates=candidates,
    )
