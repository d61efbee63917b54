"""Commands: what coordinators, residents and the scheduler ask for."""

from __future__ import annotations

from dataclasses import dataclass

from mobile_services.domain.messages import Command


@dataclass(frozen=True, kw_only=True)
class PlanWeek(Command):
    """Build (or rebuild) the draft plan of one ISO week for a territory."""

    territory_id: int
    week: str
    time_limit_s: float | None = None
    seed: int | None = None


@dataclass(frozen=True, kw_only=True)
class PublishPlan(Command):
    """Turn the latest draft of a week into bookable slots and tell the world."""

    territory_id: int
    week: str
