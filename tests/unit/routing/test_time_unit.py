"""A finer time unit (``Problem.day_length``): exact plans where whole minutes would round."""

from __future__ import annotations

from routing.matrix import TravelMatrix
from routing.params import SolveParams
from routing.problem import Candidate, OpeningHours, Problem, Shift, Site, TimeWindow
from routing.solver import solve
from tests.unit.routing.builders import car, loc

TENTHS_DAY = 14_400  # tenths of a minute in a day


def _tight_day(day_length: int, scale: int) -> Problem:
    """Thursday, a 10-minute shift, three 3-minute stops 0.2 minute apart (in ``1/scale`` min).

    Exact: 4 legs of 0.2 + 3 x 3 = 9.8 minutes, all three fit. Rounded up to whole minutes
    the legs cost 4 and only two stops fit.
    """
    home = loc(1)
    ids = (1, 1001, 1002, 1003)
    leg = max(1, round(0.2 * scale))
    minutes = tuple(tuple(0 if a == b else leg for b in ids) for a in ids)
    metres = tuple(tuple(0 if a == b else 100 for b in ids) for a in ids)
    matrix = TravelMatrix(ids=ids, minutes=minutes, metres=metres)
    day_window = TimeWindow(0, day_length)
    candidates = tuple(
        Candidate(
            id=k,
            site=Site(id=k, commune_id=k, location=loc(1000 + k, k, 0), opening=OpeningHours.weekly({3: [day_window]})),
            duration=3 * scale,
            prize=10.0,
        )
        for k in (1, 2, 3)
    )
    shift = Shift(resource_id=1, day=3, window=TimeWindow(600 * scale, 610 * scale), lunch=None)
    return Problem(
        resources=(car(1, home),),
        shifts=(shift,),
        candidates=candidates,
        matrices={kind: matrix for kind in ("car", "bus")},  # type: ignore[misc]
        day_length=day_length,
    )


def test_whole_minutes_round_the_legs_up_and_lose_a_stop(quick: SolveParams) -> None:
    plan = solve(_tight_day(1440, 1), quick)

    assert len(plan.routes[0].visits) == 2


def test_tenths_of_a_minute_fit_all_three_stops_on_the_right_day(quick: SolveParams) -> None:
    problem = _tight_day(TENTHS_DAY, 10)

    plan = solve(problem, quick)

    (route,) = plan.routes
    assert len(route.visits) == 3 and not plan.unserved
    offset = 3 * TENTHS_DAY
    assert offset + 6000 <= route.start and route.end <= offset + 6100
    previous_end = route.start
    for visit, leg in zip(route.visits, route.legs):
        assert leg.drive_min == 2
        assert visit.start >= previous_end + 2
        assert visit.end - visit.start == 30
        previous_end = visit.end
    assert route.end >= previous_end + 2
