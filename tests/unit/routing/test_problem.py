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
    Shift,
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
    assert pin.week_start() == TimeWindow(3 * 1440 + 720, 3 * 1440 + 1439)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TimeWindow(600, 500), "start <= end"),
        (lambda: cand(1, site(1, 0, 0), duration=0), "duration"),
        (lambda: cand(1, site(1, 0, 0), prize=-1), "prize"),
        (lambda: cand(1, site(1, 0, 0), max_visits=9), "max_visits"),
        (lambda: shift(1, 7), "day index"),
        (lambda: Break(window=window("12:00", "12:30"), duration=45), "does not fit"),
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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"opening": {0: [TimeWindow(600, 1500)]}}, "opening window of day 0 of site 1 must lie within one day"),
        ({"shift_end": 1500}, "Shift window of resource 1 day 0 must lie within one day"),
        ({"duration": 1441}, "Candidate 1: duration must be in 1..1440"),
        ({"pin": TimeWindow(0, 2000)}, "Pin of candidate 1 start must lie within one day"),
        ({"day_length": 0}, "day_length must be in 1.."),
        ({"frozen_before": 7 * 1440 + 1}, "frozen_before must be a week time 0..10080"),
    ],
)
def test_times_must_fit_one_day_of_the_problem_unit(kwargs: dict[str, object], message: str) -> None:
    """Windows are checked against ``Problem.day_length``, not a fixed 1440."""
    s = site(1, 1, 1, opening=kwargs.get("opening"))  # type: ignore[arg-type]
    home = loc(1)
    the_shift = Shift(resource_id=1, day=0, window=TimeWindow(0, int(kwargs.get("shift_end", 1000))), lunch=None)  # type: ignore[call-overload]
    pins = (Pin(candidate_id=1, resource_id=1, day=0, start=kwargs["pin"]),) if "pin" in kwargs else ()  # type: ignore[arg-type]
    build: dict[str, object] = {
        "resources": (car(1, home),),
        "shifts": (the_shift,),
        "candidates": (cand(1, s, duration=int(kwargs.get("duration", 60))),),  # type: ignore[call-overload]
        "pins": pins,
    }
    for key in ("day_length", "frozen_before"):
        if key in kwargs:
            build[key] = kwargs[key]
    with pytest.raises(ProblemError, match=message):
        Problem(**build)  # type: ignore[arg-type]


def test_a_finer_day_length_admits_longer_windows() -> None:
    """With 100 units per minute a day is 144000 units: a window ending at 100000 is valid."""
    s = site(1, 1, 1, opening={0: [TimeWindow(0, 100_000)]})
    the_shift = Shift(resource_id=1, day=2, window=TimeWindow(0, 120_000), lunch=None)
    problem = Problem(
        resources=(car(1, loc(1)),), shifts=(the_shift,), candidates=(cand(1, s, duration=5000),), day_length=144_000
    )
    assert problem.week_length == 7 * 144_000
    assert the_shift.week_window(problem.day_length) == TimeWindow(2 * 144_000, 2 * 144_000 + 120_000)


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
