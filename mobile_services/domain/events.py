"""Events: facts other parts of the system react to. Fields are ids, never rows.

Every event here has a consequence besides the journal (a test keeps it so): a fact
nobody acts on is not an event. Some state changes are therefore deliberately not events,
because everything they cause must commit with them and nothing is left to react later:

- a booking following its stop to a new time or place (``rebooking.carry_bookings``): the
  resident's SMS, fresh reminders and the calendar SEQUENCE belong to the publication's
  transaction, which the coordinator's preview measures; the week's changes list it;
- a seat held (``holds.hold_replacement``, ``waitlist.offer_seat``): the offer SMS and the
  dialogue waiting on OUI commit with the hold; what follows is its end, which is an event
  (:class:`HeldSeatDeclined`, :class:`HoldExpired`), or its taking, which is a booking
  (:class:`SlotBooked` with ``hold_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
class PlanSuperseded(Event):
    """The published version of a week was replaced by a newer one.

    Its stops are history from now on: whatever still points at them outside the
    publication's own transaction (a dialogue offering their slots, a hold left open past
    its time) is re-pointed to the new version or let go.
    """

    plan_id: int
    by_plan_id: int
    territory_id: int
    week: str


@dataclass(frozen=True, kw_only=True)
class SlotBooked(Event):
    """A resident booked a seat: their other requests for the same help are served.

    The booking serves them wherever they wait for it (the next village's stop serves a
    request for their own commune), and a seat still held for them elsewhere is let go.
    """

    booking_id: int
    slot_id: int
    visit_id: int
    resident_id: int
    channel: str
    hold_id: int | None = None
    """The hold whose seat this booking took (an offer answered OUI), if any."""
    others_open: bool = True
    """Whether the resident had, when booking, a request open in another commune or a seat
    held on another slot: without any, there is nothing to settle and no transaction is spent
    on it (a booking by SMS is the busiest write of a peak)."""


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
    """A resident waits for a stop in a commune: the planner counts them (open requests are
    demand), and the coordinator hears of a commune whose waiting list keeps growing with no
    stop ahead, where only a re-plan can help."""

    entry_id: int
    resident_id: int
    commune_id: int


@dataclass(frozen=True, kw_only=True)
class HeldSeatDeclined(Event):
    """A seat held for a resident was let go before its time: passed on to the next person waiting.

    ``reason``: ``said_no`` (NON to the offer), ``booked`` (they booked another seat),
    ``opted_out`` or ``unreachable`` (no offer can reach them any more).
    """

    hold_id: int
    slot_id: int
    resident_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class HoldExpired(Event):
    """Nobody answered a held seat in time: the seat is passed on, and a resident who had
    lost their booking (the seat replaced it) joins their commune's waiting list.

    Its own event rather than a declined hold because silence is not a refusal: the
    waiting resident may be offered the stop again, and the one who lost a booking still
    needs a stop.
    """

    hold_id: int
    slot_id: int
    resident_id: int


@dataclass(frozen=True, kw_only=True)
class ResidentOptedOut(Event):
    """A resident said STOP (or ARRET): their requests close and a seat held for them is let go."""

    resident_id: int


@dataclass(frozen=True, kw_only=True)
class ResidentUnreachable(Event):
    """A permanent SMS error says the number cannot receive SMS (invalid, landline, STOP)."""

    resident_id: int
    error_code: str


@dataclass(frozen=True, kw_only=True)
class VehicleDeclaredUnavailable(Event):
    """A vehicle is out for a period: the published days it touches are re-planned."""

    disruption_id: int
    territory_id: int
    vehicle_id: int


@dataclass(frozen=True, kw_only=True)
class CounsellorDeclaredUnavailable(Event):
    """A counsellor is away for a period: the published days it touches are re-planned."""

    disruption_id: int
    territory_id: int
    counsellor_id: int


@dataclass(frozen=True, kw_only=True)
class SiteBlocked(Event):
    """A site cannot host a stop on a day: that day is re-planned if published."""

    disruption_id: int
    territory_id: int
    site_id: int
    day: date


@dataclass(frozen=True, kw_only=True)
class StopCancelled(Event):
    """The coordinator cancelled a published stop: its day is re-planned without it."""

    disruption_id: int
    territory_id: int
    visit_id: int


@dataclass(frozen=True, kw_only=True)
class DemandReported(Event):
    """More people expected in a commune: the days left of the published week are re-planned."""

    disruption_id: int
    territory_id: int
    commune_id: int
    count: int


@dataclass(frozen=True, kw_only=True)
class WeekReplanned(Event):
    """A published week was re-planned after a disruption and the new version published."""

    territory_id: int
    week: str
    plan_id: int
    change_id: int
    what_fr: str = ""
    """The disruption in a few words ("Bus Nord indisponible"), for the coordinator's SMS."""
    bookings_moved: int = 0
    bookings_cancelled: int = 0
