"""The demand estimate behind every stop's prize."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mobile_services.domain.demand import CommuneDemand, DemandModel, expected_demand, stop_minutes, stop_value


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


def test_a_bourg_offers_up_to_two_full_days_and_a_stop_sees_what_its_desks_allow() -> None:
    bourg = village(population=20000, fragility=1.0)
    value = stop_value(bourg, 180, [1, 2])
    assert value.max_visits == DemandModel().max_stops_per_week == 4
    # two desks for three hours see 12 people, one desk 6; the queue beyond adds a little
    demand = expected_demand(bourg)
    assert value.prizes_by_desks[2][0] == round(12 + 0.05 * (demand - 12), 3)
    assert value.prizes_by_desks[1][0] == round(6 + 0.05 * (demand - 6), 3)


def test_a_second_stop_counts_half_so_first_stops_elsewhere_come_first() -> None:
    model = DemandModel()
    value = stop_value(village(population=20000, fragility=1.0), 180, [2], model)
    first, second = value.prizes_by_desks[2][:2]
    demand = expected_demand(village(population=20000, fragility=1.0))
    assert second == round(model.repeat_stop_weight * (12 + 0.05 * (demand - 24)), 3)
    assert second < first / 2 + 1e-9


def test_small_demand_gets_one_stop_as_long_as_it_needs() -> None:
    small = village(population=80)
    demand = expected_demand(small)
    minutes = stop_minutes(demand, 1, 180)
    assert minutes == DemandModel().min_stop_minutes  # 1.3 people: the shortest stop
    value = stop_value(small, minutes, [1, 2])  # type: ignore[arg-type]
    assert value.max_visits == 1
    assert value.prizes_by_desks[1] == (round(demand, 3),)


def test_stop_length_follows_demand_between_the_bounds() -> None:
    assert stop_minutes(4.7, 1, 180) == 150  # 141 min of work, rounded up to 15
    assert stop_minutes(4.7, 2, 180) == 90  # two desks: 71 min, but never under 90
    assert stop_minutes(40, 2, 180) == 180  # a half-day at most
    assert stop_minutes(40, 2, 120) == 120  # what the site and the drive leave
    assert stop_minutes(40, 2, 89) is None  # shorter than the shortest stop: none


def test_a_further_stop_needs_half_a_stop_of_demand_left() -> None:
    model = DemandModel()
    # 6 people fill one car stop of 180 min; 8 leave 2 (a third of a stop): still one stop
    assert stop_value(village(population=0, fragility=0, waitlist=8), 180, [1], model).max_visits == 1
    assert stop_value(village(population=0, fragility=0, waitlist=9), 180, [1], model).max_visits == 2


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
    assert stop_value(later, 180, [2]).prize >= stop_value(commune, 180, [2]).prize - 1e-9


def test_the_coverage_preference_and_stop_bounds_come_from_the_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from config.settings import Settings
    from mobile_services.service_layer.planning import options_from

    monkeypatch.setenv("MOBILE_SERVICES_REPEAT_STOP_WEIGHT", "0.25")
    monkeypatch.setenv("MOBILE_SERVICES_MIN_STOP_MINUTES", "60")
    model = options_from(Settings()).demand
    assert (model.repeat_stop_weight, model.min_stop_minutes, model.max_stops_per_week) == (0.25, 60, 4)
    bourg = village(population=20000, fragility=1.0)
    first, second = stop_value(bourg, 180, [2], model).prizes_by_desks[2][:2]
    assert second == round(0.25 * (12 + 0.05 * (expected_demand(bourg) - 24)), 3)
