"""Problem data: validation with clear errors, helpers, and the fairness boost."""

from __future__ import annotations

import pytest

from routing.matrix import TravelMatrix
from routing.problem import (
    Break,
    Candidate,
    HalfDay,
    OpeningHours,
    Pin,
    Problem,
    ProblemError,
    ResourceKind,
    TimeWindow,
    boosted_prize,
    split_week_minute,
    week_minute,
)
from tests.unit.routing.builders import car, cand, loc, shift, site, window


def test_week_minutes_round_trip() -> None:
    assert week_minute(2, 510) == 2 * 1440 + 510
    assert split_week_minute(week_minute(4, 1000)) == (4, 1000)


def test_fairness_boost_is_linear_and_capped() -> None:
    assert boosted_prize(2.0, 0) == 2.0
    assert boosted_prize(2.0, 5) == pytest.approx(3.0)
    assert boosted_prize(2.0, 50) == pytest.approx(6.0)
    assert boosted_prize(2.0, 5, per_week=0.2, max_factor=1.5) == pytest.approx(3.0)


def test_opening_hours_merge_overlaps_and_close_missing_days() -> None:
    hours = OpeningHours.weekly({1: [window("14:00", "17:00"), window("09:00", "12:00"), window("11:00", "12:30")]})

    assert hours.on(1) == (window("09:00", "12:30"), window("14:00", "17:00"))
    assert hours.on(0) == ()


def test_half_day_pin_windows() -> None:
    pin = Pin.at_half_day(candidate_id=1, resource_id=2, day=3, half=HalfDay.AFTERNOON)

    assert pin.start == TimeWindow(720, 1439)
    assert pin.week_start == TimeWindow(3 * 1440 + 720, 3 * 1440 + 1439)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TimeWindow(600, 500), "start <= end"),
        (lambda: cand(1, site(1, 0, 0), duration=0), "duration"),
        (lambda: cand(1, site(1, 0, 0), prize=-1), "prize"),
        (lambda: cand(1, site(1, 0, 0), max_visits=9), "max_visits"),
        (lambda: shift(1, 7), "day index"),
        (lambda: Break(window=window("12:00", "12:30"), duration=45), "does not fit"),
        (lambda: OpeningHours.weekly({0: [TimeWindow(600, 1500)]}), "within one day"),
        (lambda: cand(1, site(1, 0, 0), load=-1), "Candidate 1: load must be >= 0"),
        (lambda: cand(1, site(1, 0, 0), load=1.5), "Candidate 1 load must be an integer"),
        (lambda: cand(1, site(1, 0, 0), load=True), "Candidate 1 load must be an integer"),
        (lambda: shift(1, 2, capacity=-3), "resource 1 day 2: capacity must be >= 0"),
        (lambda: shift(1, 2, capacity=2.5), "Shift.capacity must be an integer"),
    ],
)
def test_malformed_objects_raise_problem_error(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProblemError, match=message):
        build()


def test_problem_refuses_duplicates_and_dangling_references() -> None:
    c = cand(1, site(1, 1, 1))
    with pytest.raises(ProblemError, match="duplicate candidate id 1"):
        Problem(resources=(car(1, loc(1)),), shifts=(), candidates=(c, c))
    with pytest.raises(ProblemError, match="unknown resource 9"):
        Problem(resources=(car(1, loc(1)),), shifts=(shift(9, 0),), candidates=(c,))
    with pytest.raises(ProblemError, match="duplicate shift"):
        Problem(resources=(car(1, loc(1)),), shifts=(shift(1, 0), shift(1, 0)), candidates=(c,))
    with pytest.raises(ProblemError, match="unknown candidate 5"):
        Problem(resources=(car(1, loc(1)),), shifts=(), candidates=(c,), pins=(Pin(candidate_id=5, resource_id=1, day=0),))


def test_problem_refuses_one_location_id_with_two_positions() -> None:
    with pytest.raises(ProblemError, match="location id 1"):
        Problem(resources=(car(1, loc(1)), car(2, loc(1, 5, 5))), shifts=(), candidates=())


def test_given_matrix_must_cover_every_location() -> None:
    partial = TravelMatrix(ids=(1,), minutes=((0,),), metres=((0,),))
    with pytest.raises(ProblemError, match="lacks locations"):
        Problem(
            resources=(car(1, loc(1)),),
            shifts=(),
            candidates=(cand(1, site(1, 1, 1)),),
            matrices={ResourceKind.CAR: partial},
        )


def test_missing_matrices_default_to_haversine_per_kind() -> None:
    problem = Problem(resources=(car(1, loc(1)),), shifts=(), candidates=(cand(1, site(1, 30, 0)),))

    bus_min = problem.matrix(ResourceKind.BUS).minutes_between(1, 1001)
    car_min = problem.matrix(ResourceKind.CAR).minutes_between(1, 1001)
    assert bus_min > car_min > 0


def test_candidate_type_errors_are_clear() -> None:
    with pytest.raises(ProblemError, match="duration must be an integer"):
        Candidate(id=1, site=site(1, 0, 0), duration=1.5)  # type: ignore[arg-type]
