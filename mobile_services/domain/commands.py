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

    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class ReconcileUnknownMessages(Command):
    """Ask the SMS provider what became of messages left ``unknown``, and settle them."""

    limit: int = 200


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
