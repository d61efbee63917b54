"""How much help a commune needs this week, and what a stop there is worth.

Demand is mostly invisible: few people call to ask for the bus. We estimate it from
what we see (waiting list, bookings that could not be served, signals a mairie
reports) on top of a baseline: residents who need help with online procedures
appear at a steady weekly rate that grows with population and digital fragility,
and accumulate while nobody visits. Field figures (DESIGN.md section 1): a village
of ~300 inhabitants visited every five weeks sees 4-5 people per half-day, i.e.
about one person a week per 150 fragile inhabitants (rate 0.0065 x fragility 0.5 x 300 x 5 weeks ~ 4.9).

Everything here is pure and documented, so a coordinator can be told *why* a commune
got (or did not get) a stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class DemandModel:
    """Tunable constants of the demand estimate (defaults calibrated on field figures)."""

    #: new requests per week per inhabitant at fragility 1.0
    weekly_rate_per_inhabitant: float = 0.0065
    #: unmet needs stop accumulating after this many weeks (people give up or go elsewhere)
    accumulation_cap_weeks: int = 10
    #: weeks assumed since the last visit for a commune never visited
    never_visited_weeks: int = 6
    #: a waiting-list entry or an unserved booking counts as this many visitors
    explicit_request_weight: float = 1.0
    #: minutes per person served at a desk (a typical procedure with explanations)
    minutes_per_person: int = 30
    #: length of a stop block (a half-day permanence)
    block_minutes: int = 180
    #: most blocks one stop may last (2 = a full day)
    max_blocks_per_stop: int = 2
    #: most stops per commune in one week
    max_visits_per_week: int = 2
    #: prize bonus when the stop falls on the commune's market day
    market_day_bonus: float = 0.25


@dataclass(frozen=True, kw_only=True)
class CommuneDemand:
    """What we know about one commune this week."""

    population: int
    fragility: float
    weeks_since_visit: int | None
    waitlist: int = 0
    unserved_bookings: int = 0
    signals: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StopValue:
    """The planner's view of one candidate stop."""

    expected_demand: float
    blocks: int
    duration_minutes: int
    capacity: int
    #: people the stop can serve this week; routing raises it for fairness (``boosted_prize``)
    prize: float
    max_visits: int


def expected_demand(commune: CommuneDemand, model: DemandModel = DemandModel()) -> float:
    """People expected at a stop this week: accumulated baseline plus explicit requests."""
    weeks = commune.weeks_since_visit if commune.weeks_since_visit is not None else model.never_visited_weeks
    weeks = max(1, min(weeks, model.accumulation_cap_weeks))
    baseline = commune.population * commune.fragility * model.weekly_rate_per_inhabitant * weeks
    explicit = (commune.waitlist + commune.unserved_bookings) * model.explicit_request_weight
    return baseline + explicit + commune.signals


def stop_value(
    commune: CommuneDemand, desks: int, model: DemandModel = DemandModel(), *, longest_opening: int | None = None
) -> StopValue:
    """Length, capacity and prize of a stop in this commune for a resource with ``desks`` desks.

    The stop lasts as many half-day blocks as its demand fills (at least one, at most
    ``max_blocks_per_stop``, and no longer than the site's ``longest_opening`` window,
    which shortens a stop at a mairie open two hours a day); the prize is the demand
    it can actually serve (capped by desks x duration / minutes per person); fairness
    across weeks is applied once, by ``routing.problem.boosted_prize`` from
    ``weeks_since_visit``. Demand beyond one stop allows a second stop on another day.
    """
    demand = expected_demand(commune, model)
    per_block = max(1, desks * model.block_minutes // model.minutes_per_person)
    blocks = min(model.max_blocks_per_stop, max(1, math.ceil(demand / per_block)))
    duration = blocks * model.block_minutes
    if longest_opening is not None and 0 < longest_opening < duration:
        blocks = max(1, longest_opening // model.block_minutes)
        duration = min(longest_opening, blocks * model.block_minutes)
    capacity = max(1, desks * duration // model.minutes_per_person)
    served = min(demand, capacity)
    visits = min(model.max_visits_per_week, max(1, math.ceil(demand / capacity)))
    return StopValue(
        expected_demand=demand,
        blocks=blocks,
        duration_minutes=duration,
        capacity=capacity,
        prize=served,
        max_visits=visits,
    )
