"""What :func:`routing.solver.solve` returns: routes with a full timetable, and reasons.

All times are week-minutes (``day * 1440 + minute``; see
:func:`routing.problem.split_week_minute`). Every route carries its own timetable
(leave, drive, arrive, serve, lunch, come back) so the app and the drivers' itinerary never
recompute times, and every candidate left out carries a machine-readable reason plus an
English detail that the app translates.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from routing.problem import format_minute, split_week_minute

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class SolveStatus(StrEnum):
    """Outcome of a solve.

    * ``OPTIMAL``: proven optimal (only tiny or trivial instances).
    * ``FEASIBLE``: a plan honouring every hard constraint, every pin and every mandatory
      candidate.
    * ``NO_SOLUTION``: the search found nothing in its time limit.
    * ``INFEASIBLE_INPUT``: the input asks for something impossible (no route at all, a pin
      that cannot be honoured, a mandatory candidate that cannot be served). The routes are
      still the best plan for what is possible; ``messages`` and ``unserved`` say what was
      dropped and why.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    NO_SOLUTION = "no_solution"
    INFEASIBLE_INPUT = "infeasible_input"


class UnservedReason(StrEnum):
    """Why a candidate got no stop (machine code; the detail string explains in English)."""

    NO_ROUTE = "no_route"
    """There is no route-day at all (no resource, every day removed, buses without crew)."""
    NO_SKILLED_CREW = "no_skilled_crew"
    """No remaining route-day's crew has all the skills the candidate requires."""
    OUTSIDE_OPENING_HOURS = "outside_opening_hours"
    """No opening window fits the duration within a shift on a day where a route exists."""
    UNREACHABLE = "unreachable"
    """Opening hours fit, but the site is too far to get there and back within a shift or
    within the daily driving limit."""
    OVER_CAPACITY = "over_capacity"
    """Its load does not fit the capacity of any route-day it could otherwise use (before
    solving: heavier than each such capacity; after: every such route is too full)."""
    INFEASIBLE_PIN = "infeasible_pin"
    """A pin (or a stop frozen by a re-plan) cannot be honoured: see the detail."""
    COMMUNE_VISITED = "commune_visited"
    """Another candidate of the same commune was served, and the commune allows one stop."""
    NO_ROOM = "no_room"
    """Mandatory, could be served alone, but not together with pins and other mandatory stops."""
    NOT_WORTH_IT = "not_worth_it"
    """Could be served, but the stops that were served are worth more."""
    NO_SOLUTION = "no_solution"
    """The search found no plan at all."""


@dataclass(frozen=True, kw_only=True)
class Leg:
    """Driving from one location to the next. ``depart``/``arrive`` are week-minutes.

    ``arrive - depart`` equals ``drive_min`` except when the lunch break is taken on the
    way (then it also contains the break).
    """

    from_location_id: int
    to_location_id: int
    depart: int
    arrive: int
    drive_min: int
    metres: int


@dataclass(frozen=True, kw_only=True)
class Visit:
    """A stop on a route: the vehicle ``arrive``s, the service runs ``[start, end]``.

    ``visit_index`` numbers the visits of one candidate (0 unless ``max_visits > 1``).
    ``prize`` is the value the objective counted (boosted, with market bonus).
    """

    candidate_id: int
    site_id: int
    commune_id: int
    location_id: int
    visit_index: int
    arrive: int
    start: int
    end: int
    prize: float
    pinned: bool = False
    frozen: bool = False

    @property
    def day(self) -> int:
        """Day index of the stop."""
        return split_week_minute(self.start)[0]

    @property
    def duration(self) -> int:
        """Service minutes."""
        return self.end - self.start


Stop = Visit
"""DESIGN.md's name for a visit."""


@dataclass(frozen=True, kw_only=True)
class Route:
    """The day of one resource: leave ``start_location_id`` at ``start``, back at ``end``.

    ``legs[k]`` leads to ``visits[k]``; the last leg returns to ``end_location_id``.
    ``lunch`` is ``(start, end)`` of the break in week-minutes, or None when the shift has
    no break rule. ``cost`` is in euro cents. ``load`` is the sum of the visited
    candidates' :attr:`~routing.problem.Candidate.load` (at most the shift's capacity).
    """

    resource_id: int
    day: int
    kind: str
    crew_ids: tuple[int, ...]
    start_location_id: int
    end_location_id: int
    start: int
    end: int
    visits: tuple[Visit, ...]
    legs: tuple[Leg, ...]
    lunch: tuple[int, int] | None
    metres: int
    driving_min: int
    cost: int
    load: int = 0

    @property
    def km(self) -> float:
        """Kilometres driven."""
        return self.metres / 1000.0

    @property
    def service_min(self) -> int:
        """Minutes spent serving residents."""
        return sum(v.duration for v in self.visits)


@dataclass(frozen=True, kw_only=True)
class Unserved:
    """A candidate without any stop, with a machine ``reason`` and an English ``detail``."""

    candidate_id: int
    reason: UnservedReason
    detail: str
    mandatory: bool = False
    prize: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Kpis:
    """Headline numbers of a plan (stored with it, shown on the dashboard)."""

    routes: int
    visits: int
    candidates_served: int
    candidates_unserved: int
    mandatory_unserved: int
    prize_served: float
    prize_unserved: float
    km: float
    driving_min: int
    service_min: int
    cost: int
    service_share: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict, for JSON."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The result of a solve.

    ``objective`` is the solver's internal objective (None without a solution), useful to
    compare runs; ``elapsed_s`` is the search time.
    """

    status: SolveStatus
    routes: tuple[Route, ...]
    unserved: tuple[Unserved, ...]
    messages: tuple[str, ...] = ()
    objective: int | None = None
    elapsed_s: float = 0.0

    def is_feasible(self) -> bool:
        """True when the plan honours every constraint, pin and mandatory candidate."""
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)

    @property
    def visits(self) -> tuple[Visit, ...]:
        """All visits of all routes, in route order."""
        return tuple(v for r in self.routes for v in r.visits)

    def visits_of(self, candidate_id: int) -> tuple[Visit, ...]:
        """The visits serving one candidate."""
        return tuple(v for v in self.visits if v.candidate_id == candidate_id)

    def route(self, resource_id: int, day: int) -> Route | None:
        """The route of a resource on a day, if used."""
        for r in self.routes:
            if (r.resource_id, r.day) == (resource_id, day):
                return r
        return None

    def unserved_reason(self, candidate_id: int) -> UnservedReason | None:
        """Why a candidate was left out (None if served)."""
        for u in self.unserved:
            if u.candidate_id == candidate_id:
                return u.reason
        return None

    def cost(self) -> int:
        """Kilometre cost in euro cents."""
        return sum(r.cost for r in self.routes)

    def kpis(self) -> Kpis:
        """Headline numbers."""
        visits = self.visits
        served = {v.candidate_id for v in visits}
        working = sum(r.end - r.start for r in self.routes)
        service = sum(r.service_min for r in self.routes)
        return Kpis(
            routes=len(self.routes),
            visits=len(visits),
            candidates_served=len(served),
            candidates_unserved=len(self.unserved),
            mandatory_unserved=sum(1 for u in self.unserved if u.mandatory),
            prize_served=round(sum(v.prize for v in visits), 6),
            prize_unserved=round(sum(u.prize for u in self.unserved), 6),
            km=round(sum(r.km for r in self.routes), 3),
            driving_min=sum(r.driving_min for r in self.routes),
            service_min=service,
            cost=self.cost(),
            service_share=round(service / working, 4) if working else 0.0,
        )

    def summary(self) -> str:
        """Human-readable English summary (logs, CLI)."""
        k = self.kpis()
        lines = [
            f"status {self.status.value}: {k.visits} visits on {k.routes} routes, "
            f"{k.candidates_unserved} candidates unserved, prize {k.prize_served:g}, "
            f"{k.km:.1f} km, {k.driving_min} min driving"
        ]
        for r in self.routes:
            stops = ", ".join(f"{format_minute(v.start)} c{v.candidate_id}" for v in r.visits)
            lunch = f", lunch {format_minute(r.lunch[0])}" if r.lunch else ""
            lines.append(
                f"  {_DAY_NAMES[r.day]} resource {r.resource_id}: {format_minute(r.start)}-"
                f"{format_minute(r.end)}, {r.km:.1f} km{lunch}: {stops}"
            )
        for u in self.unserved:
            lines.append(f"  unserved c{u.candidate_id} [{u.reason.value}] {u.detail}")
        lines.extend(f"  note: {m}" for m in self.messages)
        return "\n".join(lines)
