"""Events: facts other parts of the system react to. Fields are ids, never rows."""

from __future__ import annotations

from dataclasses import dataclass

from mobile_services.domain.messages import Event


@dataclass(frozen=True, kw_only=True)
class PlanDrafted(Event):
    """A draft plan was stored for a week (coordinators review it before publishing)."""

    plan_id: int
    territory_id: int
    week: str


@dataclass(frozen=True, kw_only=True)
class PlanPublished(Event):
    """A plan became the published one: its slots are bookable, feeds must change."""

    plan_id: int
    territory_id: int
    week: str
    superseded_plan_id: int | None = None
