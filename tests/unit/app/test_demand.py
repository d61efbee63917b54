"""The demand estimate behind every stop's prize."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mobile_services.domain.demand import CommuneDemand, DemandModel, expected_demand, stop_value


def village(**overrides: object) -> CommuneDemand:
    """A 300-inhabitant village of average fragility, visited five weeks ago."""
    values: dict[str, object] = {"population": 300, "fragility": 0.5, "weeks_since_visit": 5}
    values.update(overrides)
    return CommuneDemand(**values)  # type: ignore[arg-type]


def test_field_calibration_four_to_five_people_after_five_weeks() -> None:
    assert 4.0 <= expected_demand(village()) <= 5.5


def test_waiting_list_adds_people_one_for_one() -> None:
    assert expected_demand(village(waitlist=3)) - expected_demand(village()) == 3


def test_unmet_needs_stop_accumulating_after_the_cap() -> None:
    model = DemandModel()
    capped = expected_demand(village(weeks_since_visit=model.accumulation_cap_weeks), model)
    assert expected_demand(village(weeks_since_visit=50), model) == capped


def test_prize_never_exceeds_what_the_stop_can_serve() -> None:
    value = stop_value(village(population=20000, fragility=1.0), desks=2)
    assert value.blocks == DemandModel().max_blocks_per_stop
    assert value.prize <= value.capacity
    assert value.max_visits == 2


def test_small_demand_gets_one_half_day() -> None:
    value = stop_value(village(population=80), desks=2)
    assert value.blocks == 1
    assert value.duration_minutes == 180
    assert value.max_visits == 1


@given(
    population=st.integers(0, 50_000),
    fragility=st.floats(0, 1),
    weeks=st.one_of(st.none(), st.integers(0, 60)),
    waitlist=st.integers(0, 40),
)
def test_longer_absence_never_lowers_the_prize(population: int, fragility: float, weeks: int | None, waitlist: int) -> None:
    commune = CommuneDemand(population=population, fragility=fragility, weeks_since_visit=weeks, waitlist=waitlist)
    later = CommuneDemand(
        population=population, fragility=fragility, weeks_since_visit=(weeks or 0) + 1 if weeks is not None else None,
        waitlist=waitlist,
    )
    assert stop_value(later, desks=2).prize >= stop_value(commune, desks=2).prize - 1e-9


def test_stop_shrinks_to_the_longest_opening_window() -> None:
    busy = village(population=3000, fragility=0.8, weeks_since_visit=8)
    full = stop_value(busy, desks=2)
    short = stop_value(busy, desks=2, longest_opening=120)
    assert full.duration_minutes == 360
    assert short.duration_minutes == 120
    assert short.capacity == 2 * 120 // 30
    assert short.max_visits == 2
    assert stop_value(busy, desks=2, longest_opening=180).duration_minutes == 180
