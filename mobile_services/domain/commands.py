"""Commands: what coordinators, residents and the scheduler ask for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from mobile_services.domain.messages import Command


@dataclass(frozen=True, kw_only=True)
class PlanWeek(Command):
    """Build (or rebuild) the draft plan of one ISO week for a territory."""

    territory_id: int
    week: str
    time_limit_s: float | None = None
    seed: int | None = None
    keep_days: tuple[date, ...] = ()
    """Days whose published stops stay where they are (pinned): a re-plan of the other days only."""


@dataclass(frozen=True, kw_only=True)
class PublishPlan(Command):
    """Turn the newest version of a week into bookable slots and tell the world.

    Only the newest version is ever published; publishing it twice does nothing. A
    publication that moves or cancels bookings is measured, rolled back and refused
    (``ConfirmationRequired``, carrying the diff) unless ``confirmed`` is set or
    ``confirmed_diff`` is the fingerprint of that very diff.
    """

    territory_id: int
    week: str
    version: int | None = None
    """The version the coordinator reviewed; refused unless it is the newest (None: the newest)."""
    confirmed: bool = False
    """Moving and cancelling bookings is accepted whatever they are (``publish --yes``)."""
    confirmed_diff: str | None = None
    """Fingerprint of the diff the coordinator accepted: anything else is shown again."""


@dataclass(frozen=True, kw_only=True)
class DeclareVehicleUnavailable(Command):
    """A vehicle cannot run from ``starts_at`` to ``ends_at`` (a breakdown, a service visit).

    The published days it touches are re-planned at once (:mod:`disruptions`).
    """

    vehicle_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class DeclareCounsellorUnavailable(Command):
    """A counsellor is away from ``starts_at`` to ``ends_at`` (ill, on leave, training)."""

    counsellor_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class BlockSite(Command):
    """A site cannot host a stop on ``day`` (the salle des fêtes is taken, works on the square)."""

    site_id: int
    day: date
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class CancelStop(Command):
    """The coordinator cancels one published stop: its site is blocked that day and the day re-planned."""

    visit_id: int
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ReportDemand(Command):
    """People asked for help in a commune (mairie, phone, partner): ``count`` more expected there."""

    commune_id: int
    count: int
    service_id: int | None = None
    source: str = "request"


@dataclass(frozen=True, kw_only=True)
class BookSlot(Command):
    """A resident books one seat of a slot (by SMS, web page, phone or at the counter)."""

    phone: str
    slot_id: int
    service_id: int | None = None
    channel: str = "sms"
    commune_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TakeHeldSeat(Command):
    """The resident takes the seat held for them after their stop was cancelled (web page)."""

    cancelled_booking_id: int


@dataclass(frozen=True, kw_only=True)
class CancelBooking(Command):
    """Cancel a live booking. ``phone`` (when given) must be the booking's own resident."""

    booking_id: int
    phone: str | None = None
    reason: str = "resident"


@dataclass(frozen=True, kw_only=True)
class JoinWaitlist(Command):
    """A resident asks for a stop in a commune where none is planned."""

    phone: str
    commune_id: int
    service_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class SetOptOut(Command):
    """STOP / ARRET (opted_out=True) or START (False), mirrored from the SMS provider."""

    phone: str
    opted_out: bool


@dataclass(frozen=True, kw_only=True)
class DispatchDueMessages(Command):
    """Send what the outbox holds that is due now (the scheduler runs it every ~20 s)."""

    #: most messages attempted in this run; None: 100, or 8 per sender with more than 12
    limit: int | None = None


@dataclass(frozen=True, kw_only=True)
class ReconcileUnknownMessages(Command):
    """Ask the SMS provider what became of messages left ``unknown``, and settle them."""

    limit: int = 200


@dataclass(frozen=True, kw_only=True)
class SendDayItineraries(Command):
    """Each driver and counsellor with stops today gets one SMS with their page link (06:00)."""


@dataclass(frozen=True, kw_only=True)
class DraftNextWeek(Command):
    """Plan next week's draft for every territory not yet published there (weekly job)."""


@dataclass(frozen=True, kw_only=True)
class PassOnFreedSeats(Command):
    """Offer seats freed by cancellations, and not taken, to the next person waiting (every minute)."""


@dataclass(frozen=True, kw_only=True)
class ExpireWaitlistEntries(Command):
    """Close waiting-list requests too old to be served, and tell the residents (daily)."""


@dataclass(frozen=True, kw_only=True)
class ReceiveSms(Command):
    """A resident's SMS, as Twilio's inbound webhook delivered it (signature already checked)."""

    message_sid: str
    from_number: str
    to_number: str = ""
    body: str = ""
    opt_out_type: str | None = None
    """"STOP", "START" or "HELP" when Twilio's Advanced Opt-Out already acted on a keyword."""


@dataclass(frozen=True, kw_only=True)
class RecordDeliveryStatus(Command):
    """Twilio reports what became of an SMS we sent (queued, sent, delivered, failed...)."""

    message_sid: str
    status: str
    error_code: str | None = None
    outbox_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class AnonymiseInactiveResidents(Command):
    """Retention: forget the phone number and messages of residents inactive for too long."""

    older_than_days: int


@dataclass(frozen=True, kw_only=True)
class RotateAccessToken(Command):
    """Revoke the private link of a vehicle (its driver) or a counsellor and issue a new one."""

    territory_id: int
    kind: str
    """"vehicle" or "counsellor"."""
    subject_id: int


@dataclass(frozen=True, kw_only=True)
class RecordAttendance(Command):
    """The counsellor marks a booking of one of their stops attended or no-show (their page)."""

    counsellor_id: int
    booking_id: int
    attended: bool


@dataclass(frozen=True, kw_only=True)
class RecordWalkIns(Command):
    """The counsellor records how many residents came without a booking to one of their stops."""

    counsellor_id: int
    visit_id: int
    count: int


@dataclass(frozen=True, kw_only=True)
class RequestWebCode(Command):
    """A page asks for a one-time code by SMS to prove a phone number (booking, waiting list)."""

    phone: str
    purpose: str
    """"booking" (``slot_id``, ``service_id``) or "waitlist" (``commune_id``, ``service_id``)."""
    client: str
    """The requesting address, for the per-address rate limit (only its hash is stored)."""
    slot_id: int | None = None
    service_id: int | None = None
    commune_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class VerifyWebCode(Command):
    """The code typed on the page: right, it proves the phone number once."""

    challenge: str
    code: str
