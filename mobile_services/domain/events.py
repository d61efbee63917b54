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


@dataclass(frozen=True, kw_only=True)
class SlotBooked(Event):
    booking_id: int
    slot_id: int
    visit_id: int
    resident_id: int
    channel: str


@dataclass(frozen=True, kw_only=True)
class BookingCancelled(Event):
    """A seat was freed: reminders are withdrawn, the waiting list may be offered it."""

    booking_id: int
    slot_id: int
    visit_id: int
    resident_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class JoinedWaitlist(Event):
    entry_id: int
    resident_id: int
    commune_id: int


@dataclass(frozen=True, kw_only=True)
class ResidentOptedOut(Event):
    resident_id: int


@dataclass(frozen=True, kw_only=True)
class ResidentUnreachable(Event):
    """A permanent SMS error says the number cannot receive SMS (invalid, landline, STOP)."""

    resident_id: int
    error_code: str
