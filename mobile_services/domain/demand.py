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
from collections.abc import Iterable
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
    #: longest stop: a half-day permanence. A full day is two stops in a row at the same
    #: place, lunch between (the planner keeps a commune's stops of one day on one route).
    block_minutes: int = 180
    #: shortest stop worth the drive; a stop shortens to what the site's hours and the drive
    #: from the depot allow, down to this (a shorter stop is better than none)
    min_stop_minutes: int = 90
    #: stop lengths are rounded up to this many minutes
    stop_step_minutes: int = 15
    #: most stops per commune in one week (4 = two full days)
    max_stops_per_week: int = 4
    #: coverage before repetition: a commune's second and later stops of the week count
    #: this share of the people they serve, so a first stop elsewhere wins unless the
    #: commune's demand truly overflows (0.5: a second stop for 12 people ties a first stop
    #: for 6)
    repeat_stop_weight: float = 0.5
    #: a further stop in a commune is offered only when the demand left after the earlier
    #: ones fills at least this share of it
    repeat_min_share: float = 0.5
    #: urgency of demand a stop cannot see: each person beyond its capacity adds this much
    #: to its prize, so that between two full stops the planner goes where more people wait
    #: (a bourg before a hamlet) without letting queues outweigh people actually seen
    overflow_weight: float = 0.05
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
    """The planner's view of the stops one site of a commune can host this week.

    ``prizes_by_desks[d]`` lists what the commune's 1st, 2nd... stop is worth to the
    planner when a route-day with ``d`` desks makes it: the people it can see (``d`` desks
    for ``duration_minutes``, what is left of the demand after the earlier stops), the
    second and later ones weighted by :attr:`DemandModel.repeat_stop_weight`.
    """

    expected_demand: float
    duration_minutes: int
    prizes_by_desks: dict[int, tuple[float, ...]]
    max_visits: int
    minutes_per_person: int

    @property
    def prize(self) -> float:
        """Worth of a first stop by the best-staffed resource (reports, left-out lists)."""
        return self.prizes_by_desks[max(self.prizes_by_desks)][0]

    def capacity(self, desks: int) -> float:
        """People one stop can see with ``desks`` desks."""
        return desks * self.duration_minutes / self.minutes_per_person


def expected_demand(commune: CommuneDemand, model: DemandModel = DemandModel()) -> float:
    """People expected at a stop this week: accumulated baseline plus explicit requests."""
    weeks = commune.weeks_since_visit if commune.weeks_since_visit is not None else model.never_visited_weeks
    weeks = max(1, min(weeks, model.accumulation_cap_weeks))
    baseline = commune.population * commune.fragility * model.weekly_rate_per_inhabitant * weeks
    explicit = (commune.waitlist + commune.unserved_bookings) * model.explicit_request_weight
    return baseline + explicit + commune.signals


def stop_minutes(demand: float, desks: int, usable: int, model: DemandModel = DemandModel()) -> int | None:
    """How long a stop lasts: what the demand needs at ``desks`` desks, within the bounds.

    At least ``min_stop_minutes`` (a bus does not come for twenty minutes), at most a
    half-day block and the ``usable`` minutes the site's hours and the drive leave; None
    when even the shortest stop does not fit (the coordinator is told why).
    """
    if usable < model.min_stop_minutes:
        return None
    step = model.stop_step_minutes
    needed = math.ceil(demand * model.minutes_per_person / max(1, desks) / step) * step
    return min(model.block_minutes, usable, max(model.min_stop_minutes, needed))


def stop_value(
    commune: CommuneDemand,
    duration: int,
    desks_options: Iterable[int],
    model: DemandModel = DemandModel(),
) -> StopValue:
    """Prizes of the commune's stops of ``duration`` minutes for route-days of each desk count.

    The number of stops offered follows the demand: one more while what is left after the
    earlier stops fills ``repeat_min_share`` of a stop of the least-staffed resource, up to
    ``max_stops_per_week``. A stop's prize is the people it sees plus ``overflow_weight``
    per person it cannot (see :class:`DemandModel`). Fairness across weeks is applied once,
    by ``routing.problem.boosted_prize`` from ``weeks_since_visit``.
    """
    demand = expected_demand(commune, model)
    desks_set = sorted(set(desks_options)) or [1]
    smallest = desks_set[0] * duration / model.minutes_per_person
    stops = 1
    while stops < model.max_stops_per_week and demand - stops * smallest >= model.repeat_min_share * smallest:
        stops += 1
    table: dict[int, tuple[float, ...]] = {}
    for desks in desks_set:
        capacity = desks * duration / model.minutes_per_person
        prizes = []
        for k in range(stops):
            left = max(0.0, demand - k * capacity)
            seen = min(capacity, left)
            value = seen + model.overflow_weight * (left - seen)
            prizes.append(round(min(value, 1000.0) * (1.0 if k == 0 else model.repeat_stop_weight), 3))
        table[desks] = tuple(prizes)
    return StopValue(
        expected_demand=demand,
        duration_minutes=duration,
        prizes_by_desks=table,
        max_visits=stops,
        minutes_per_person=model.minutes_per_person,
    )
