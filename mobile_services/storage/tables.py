"""Database tables (SQLModel), the storage side of DESIGN.md section 3.

Integrity lives in the database, not only in Python: unique keys for what must not
be duplicated (INSEE code per territory, outbox idempotency key, provider SID,
inbound MessageSid, one live booking per seat), checks for what must hold (end after
start, capacity >= 1), and indexes for the hot queries (due messages, visits by
date, slots by visit). The Alembic migrations mirror this file; a test compares them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from mobile_services.storage.types import UTCDateTime, utcnow

#: Booking statuses that hold a seat. The partial unique index uses the same list.
LIVE_BOOKING_STATUSES = ("confirmed",)
BOOKING_STATUSES = ("confirmed", "cancelled", "moved", "attended", "no_show")
MESSAGE_STATUSES = (
    "pending",  # waiting for due_at
    "sending",  # claimed by a dispatcher, provider call in flight
    "sent",  # accepted by the provider (SID known)
    "delivered",
    "undelivered",
    "failed",  # permanent error, never retried
    "unknown",  # timeout after the request may have reached the provider: reconcile, never resend
    "withdrawn",  # cancelled before sending (booking cancelled, plan changed)
    "expired",  # validity passed before it could be sent
)
PLAN_STATUSES = ("draft", "published", "superseded")
#: What a disruption takes away: a vehicle or a counsellor for a period, a site for a day
#: (a blocked site or a cancelled stop), or more demand reported in a commune.
DISRUPTION_KINDS = ("vehicle", "counsellor", "site", "demand")
#: A held seat is "open" until the resident answers OUI ("taken"), answers NON
#: ("declined"), or its time runs out (counted as free at once; marked "expired" when the
#: seat is needed again). A re-plan moves an open hold to the new plan's slots, or, with no
#: seat left to keep, ends it ("withdrawn").
HOLD_STATUSES = ("open", "taken", "declined", "expired", "withdrawn")
#: What a private page link (driver, counsellor) opens: a vehicle's days or a counsellor's.
ACCESS_TOKEN_KINDS = ("vehicle", "counsellor")


def _json(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


# --------------------------------------------------------------------------- tenants


class Organisation(SQLModel, table=True):
    """A tenant: an intercommunalité, a département, an association."""

    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Territory(SQLModel, table=True):
    """The area one coordinator plans: communes, sites and resources belong to it."""

    __tablename__ = "territory"
    __table_args__ = (
        UniqueConstraint("organisation_id", "name", name="uq_territory_org_name"),
        UniqueConstraint("sms_number", name="uq_territory_sms_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    departement: str = Field(max_length=3, description="INSEE département code, for public holidays")
    # The Twilio number residents of this territory write to (E.164). An SMS to it looks for
    # communes of this territory only (two départements may both have a Saint-Martin); an SMS
    # to a number no territory claims looks everywhere, as a one-territory install does.
    sms_number: str | None = Field(default=None, max_length=20)
    #: share of desk time kept for walk-ins at this territory's stops (None: the setting)
    walk_in_share: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Commune(SQLModel, table=True):
    __tablename__ = "commune"
    __table_args__ = (
        UniqueConstraint("territory_id", "insee_code", name="uq_commune_territory_insee"),
        CheckConstraint("population >= 0", name="ck_commune_population"),
        CheckConstraint("fragility >= 0 AND fragility <= 1", name="ck_commune_fragility"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    insee_code: str = Field(max_length=5)
    name: str = Field(max_length=200)
    postcodes: list[str] = _json(list)
    population: int = 0
    latitude: float
    longitude: float
    fragility: float = Field(0.5, description="digital fragility index, 0 (none) to 1 (very fragile)")
    #: The commune's outline, a GeoJSON Polygon or MultiPolygon geometry
    #: ({"type": "MultiPolygon", "coordinates": [[[[lon, lat], ...]]]}) as geo.api.gouv.fr's
    #: ``contour`` field gives it; None when the import carried none (CSV files never do).
    contour: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Site(SQLModel, table=True):
    """Where a bus parks or a counsellor sits: mairie, place du marché, médiathèque."""

    __tablename__ = "site"
    __table_args__ = (
        UniqueConstraint("commune_id", "name", name="uq_site_commune_name"),
        CheckConstraint("market_day IS NULL OR (market_day >= 0 AND market_day <= 6)", name="ck_site_market_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="commune.id", index=True)
    name: str = Field(max_length=200)
    kind: str = Field("mairie", max_length=40)
    address: str = Field("", max_length=300)
    latitude: float
    longitude: float
    #: {"0": [["09:00", "12:00"], ["14:00", "17:00"]], ...} keyed by ISO weekday - 1 (0 = Monday)
    opening_hours: dict[str, list[list[str]]] = _json(dict)
    market_day: int | None = None
    accessible: bool = True
    has_power: bool = False
    bus_parking: bool = True
    #: A default site: the "Mairie" at the commune's centre that a commune without a site of
    #: its own gets (territory/store.py, DEFAULT_SITE_HOURS). Importing a real site for the
    #: commune removes it, or, when visits already reference it, keeps it with no opening
    #: hours (never planned again); a commune left with no site gets it back.
    is_default: bool = Field(False, sa_column_kwargs={"server_default": false()})
    #: share of desk time kept for walk-ins at this site (None: the territory's, or the setting)
    walk_in_share: float | None = None


class Vehicle(SQLModel, table=True):
    """A bus with desks, or a counsellor's car (kind 'car')."""

    __tablename__ = "vehicle"
    __table_args__ = (
        UniqueConstraint("territory_id", "name", name="uq_vehicle_territory_name"),
        CheckConstraint("desks >= 1", name="ck_vehicle_desks"),
        CheckConstraint("shift_end_minute > shift_start_minute", name="ck_vehicle_shift"),
        CheckConstraint(_in("kind", ("bus", "car")), name="ck_vehicle_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    name: str = Field(max_length=100)
    kind: str = Field("bus", max_length=10)
    depot_name: str = Field("", max_length=200)
    depot_latitude: float
    depot_longitude: float
    desks: int = 2
    shift_start_minute: int = 8 * 60 + 30
    shift_end_minute: int = 17 * 60 + 30
    max_driving_minutes: int = 240
    speed_kmh: float = 50.0
    cost_per_km: float = 0.6
    co2_g_per_km: float = 280.0
    equipment: list[str] = _json(list)
    active: bool = True


class Counsellor(SQLModel, table=True):
    """A conseiller numérique or France Services agent."""

    __tablename__ = "counsellor"
    __table_args__ = (
        UniqueConstraint("territory_id", "name", name="uq_counsellor_territory_name"),
        CheckConstraint(_in("travel_mode", ("bus", "car")), name="ck_counsellor_travel_mode"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    home_latitude: float
    home_longitude: float
    skills: list[str] = _json(list)
    #: weekdays never worked (0 = Monday)
    days_off: list[int] = _json(list)
    #: ISO dates of leave / sickness
    unavailable_dates: list[str] = _json(list)
    travel_mode: str = Field("bus", max_length=10)
    vehicle_id: int | None = Field(default=None, foreign_key="vehicle.id", description="bus usually ridden")
    active: bool = True


class Driver(SQLModel, table=True):
    __tablename__ = "driver"

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    vehicle_id: int | None = Field(default=None, foreign_key="vehicle.id")
    active: bool = True


class Service(SQLModel, table=True):
    """A motif a resident can book: CAF, Ameli, ANTS carte grise, atelier smartphone..."""

    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("duration_minutes >= 5", name="ck_service_duration"),
        CheckConstraint("group_capacity >= 1", name="ck_service_group_capacity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    label: str = Field(max_length=200)
    short_label: str = Field(max_length=40, description="GSM-7 friendly label for SMS lists")
    operator: str = Field("", max_length=80)
    duration_minutes: int = 30
    required_skill: str | None = Field(default=None, max_length=40)
    documents: list[str] = _json(list)
    is_group: bool = False
    group_capacity: int = 1


# --------------------------------------------------------------------------- demand


class DemandSignal(SQLModel, table=True):
    """One piece of evidence that people in a commune need help (waitlist, past visits...)."""

    __tablename__ = "demand_signal"
    __table_args__ = (CheckConstraint("weight >= 0", name="ck_demand_weight"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="commune.id", index=True)
    service_id: int | None = Field(default=None, foreign_key="service.id")
    source: str = Field(max_length=40, description="waitlist, unserved_booking, attendance, baseline, request")
    weight: float = 1.0
    observed_on: date


class Resident(SQLModel, table=True):
    __tablename__ = "resident"

    id: int | None = Field(default=None, primary_key=True)
    phone: str | None = Field(default=None, unique=True, max_length=20, description="E.164; NULL once anonymised")
    commune_id: int | None = Field(default=None, foreign_key="commune.id")
    opted_out: bool = False
    unreachable: bool = Field(False, description="a permanent SMS error was seen (invalid, landline)")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WaitlistEntry(SQLModel, table=True):
    __tablename__ = "waitlist_entry"
    __table_args__ = (
        Index(
            "uq_waitlist_open",
            "resident_id",
            "commune_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    commune_id: int = Field(foreign_key="commune.id", index=True)
    service_id: int | None = Field(default=None, foreign_key="service.id")
    status: str = Field("open", max_length=20)
    notified_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --------------------------------------------------------------------------- plans


class Plan(SQLModel, table=True):
    __tablename__ = "plan"
    __table_args__ = (
        UniqueConstraint("territory_id", "week", "version", name="uq_plan_week_version"),
        CheckConstraint(_in("status", PLAN_STATUSES), name="ck_plan_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    week: str = Field(max_length=8, description="ISO week, e.g. 2026-W49")
    version: int = 1
    status: str = Field("draft", max_length=20)
    solver_status: str = Field("", max_length=40)
    objective: float | None = None
    solve_seconds: float | None = None
    kpis: dict[str, Any] = _json(dict)
    unserved: list[dict[str, Any]] = _json(list)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Route(SQLModel, table=True):
    """One resource-day of a plan: a bus or a counsellor's car on one date."""

    __tablename__ = "route"
    __table_args__ = (CheckConstraint("end_at >= start_at", name="ck_route_times"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    day: date
    vehicle_id: int = Field(foreign_key="vehicle.id")
    crew: list[int] = _json(list)
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    break_start_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    break_end_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    distance_km: float = 0.0
    driving_minutes: int = 0


class Visit(SQLModel, table=True):
    """A stop: a site on a date, served by a vehicle and its crew."""

    __tablename__ = "visit"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ck_visit_times"),
        CheckConstraint(_in("half_day", ("am", "pm", "day")), name="ck_visit_half_day"),
        CheckConstraint(_in("status", ("planned", "cancelled", "done")), name="ck_visit_status"),
        Index("ix_visit_day", "day"),
        Index("ix_visit_site_day", "site_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    route_id: int | None = Field(default=None, foreign_key="route.id")
    site_id: int = Field(foreign_key="site.id")
    day: date
    half_day: str = Field("am", max_length=4)
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    arrival_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    vehicle_id: int = Field(foreign_key="vehicle.id")
    crew: list[int] = _json(list)
    sequence: int = 0
    pinned: bool = False
    status: str = Field("planned", max_length=20)
    expected_demand: float = 0.0
    ical_sequence: int = 0
    #: The first published version's visit this stop descends from (None: this one). Calendar
    #: UIDs come from it, so a stop moved by a re-plan keeps its UID with a higher SEQUENCE.
    ical_origin_id: int | None = None
    #: Residents seen without a booking, recorded by the counsellor (None: not recorded yet).
    walk_ins: int | None = None


class Slot(SQLModel, table=True):
    """A bookable piece of a visit; seats are numbered 1..capacity."""

    __tablename__ = "slot"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ck_slot_times"),
        CheckConstraint("capacity >= 1", name="ck_slot_capacity"),
        Index("ix_slot_visit_start", "visit_id", "start_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="visit.id")
    service_id: int | None = Field(default=None, foreign_key="service.id")
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    capacity: int = 1
    walk_in: bool = False
    desk: int = 1


class Booking(SQLModel, table=True):
    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint("seat >= 1", name="ck_booking_seat"),
        CheckConstraint(_in("status", BOOKING_STATUSES), name="ck_booking_status"),
        CheckConstraint(_in("channel", ("sms", "web", "phone", "counter")), name="ck_booking_channel"),
        # Two live bookings can never hold the same seat: the last line of defence
        # against over-booking, whatever the application code does.
        Index(
            "uq_booking_live_seat",
            "slot_id",
            "seat",
            unique=True,
            sqlite_where=text(_in("status", LIVE_BOOKING_STATUSES)),
            postgresql_where=text(_in("status", LIVE_BOOKING_STATUSES)),
        ),
        # One live booking per resident per stop.
        Index(
            "uq_booking_live_resident_visit",
            "visit_id",
            "resident_id",
            unique=True,
            sqlite_where=text(_in("status", LIVE_BOOKING_STATUSES)),
            postgresql_where=text(_in("status", LIVE_BOOKING_STATUSES)),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int = Field(foreign_key="slot.id", index=True)
    visit_id: int = Field(foreign_key="visit.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    service_id: int | None = Field(default=None, foreign_key="service.id")
    seat: int = 1
    status: str = Field("confirmed", max_length=20)
    channel: str = Field("sms", max_length=10)
    token: str = Field(unique=True, max_length=64, description="unguessable, revocable public link token")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: Bumped when a re-plan moves the booking (its calendar event's SEQUENCE; a cancelled
    #: booking adds one more when shown).
    ical_sequence: int = Field(0, sa_column_kwargs={"server_default": text("0")})
    #: Last change of time, place or status (the calendar event's LAST-MODIFIED).
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SeatHold(SQLModel, table=True):
    """A seat kept for a resident whose stop was cancelled, offered to them by SMS.

    Why not a booking: the resident has not said yes. Until they answer OUI (the booking
    service then books this very seat) or ``expires_at`` passes, nobody else can take it;
    after that it is free again without any job having to run.
    """

    __tablename__ = "seat_hold"
    __table_args__ = (
        CheckConstraint("seat >= 1", name="ck_seat_hold_seat"),
        CheckConstraint(_in("status", HOLD_STATUSES), name="ck_seat_hold_status"),
        # Two open holds never keep the same seat.
        Index(
            "uq_seat_hold_open_seat",
            "slot_id",
            "seat",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # The every-minute pass finds the open holds that ran out.
        Index(
            "ix_seat_hold_open_expiry",
            "expires_at",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int = Field(foreign_key="slot.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    service_id: int | None = Field(default=None, foreign_key="service.id")
    #: The booking whose stop was cancelled (what the offer replaces), or, for an offer to
    #: the waiting list, the cancelled booking that freed the seat.
    cancelled_booking_id: int = Field(foreign_key="booking.id")
    #: Set when the seat is offered to someone on the waiting list (passed on if unanswered).
    waitlist_entry_id: int | None = Field(default=None, index=True)
    seat: int = 1
    status: str = Field("open", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class AccessToken(SQLModel, table=True):
    """The key of a private page and feed: a vehicle's (its driver's) or a counsellor's days.

    Unguessable (256 bits), carries no personal data, revocable: rotating revokes the live
    token and issues a new one in the same transaction. At most one live token per subject.
    """

    __tablename__ = "access_token"
    __table_args__ = (
        CheckConstraint(_in("kind", ACCESS_TOKEN_KINDS), name="ck_access_token_kind"),
        Index(
            "uq_access_token_live_subject",
            "kind",
            "subject_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    kind: str = Field(max_length=20)
    #: vehicle.id or counsellor.id, by kind
    subject_id: int
    token: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


#: What a one-time code proves the phone number for: a booking, or joining a waiting list.
WEB_CODE_PURPOSES = ("booking", "waitlist")


class WebCode(SQLModel, table=True):
    """A one-time code sent by SMS to prove a phone number typed on a page.

    The page that asks for the code is keyed by ``challenge`` (random, 256 bits, nothing
    personal); the code itself is stored hashed with the challenge. Six digits, valid
    10 minutes, 5 tries, used once; ``client_hash`` (a hash of the requesting address)
    rate-limits requests per address without keeping the address.
    """

    __tablename__ = "web_code"
    __table_args__ = (
        CheckConstraint(_in("purpose", WEB_CODE_PURPOSES), name="ck_web_code_purpose"),
        CheckConstraint("attempts >= 0", name="ck_web_code_attempts"),
        Index("ix_web_code_phone_created", "phone", "created_at"),
        Index("ix_web_code_client_created", "client_hash", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    challenge: str = Field(unique=True, max_length=64)
    purpose: str = Field(max_length=20)
    phone: str | None = Field(default=None, max_length=20, description="E.164; NULL once anonymised")
    code_hash: str = Field(max_length=64)
    client_hash: str = Field(max_length=64)
    slot_id: int | None = Field(default=None, foreign_key="slot.id")
    service_id: int | None = Field(default=None, foreign_key="service.id")
    commune_id: int | None = Field(default=None, foreign_key="commune.id")
    attempts: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --------------------------------------------------------------------------- messaging


class Message(SQLModel, table=True):
    """The transactional outbox: every SMS we intend to send, with its fate."""

    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="ck_message_status"),
        CheckConstraint("attempts >= 0", name="ck_message_attempts"),
        Index("ix_message_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient: str | None = Field(default=None, max_length=20, description="E.164; NULL once anonymised")
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    booking_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    #: The stop a waiting-list notice or seat offer is about (who was told of which stop).
    visit_id: int | None = Field(default=None, index=True)
    kind: str = Field(max_length=40)
    body: str
    idempotency_key: str = Field(unique=True, max_length=200)
    due_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field("pending", max_length=20)
    attempts: int = 0
    #: when the row was last *attempted* (marked ``sending`` right before its provider call)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: a ``pending`` row taken by a dispatcher's batch claim, not attempted yet: the claim's
    #: token, and when the claim lapses (a dead claimer's rows are then due to anyone again)
    claim_token: str | None = Field(default=None, max_length=32)
    claim_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    provider_sid: str | None = Field(default=None, unique=True, max_length=64)
    provider_status: str | None = Field(default=None, max_length=20)
    error_code: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InboundMessage(SQLModel, table=True):
    """Every SMS received, once: Twilio redeliveries hit the unique MessageSid."""

    __tablename__ = "inbound_message"

    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(unique=True, max_length=64)
    from_phone: str | None = Field(default=None, max_length=20)
    to_phone: str = Field("", max_length=20)
    body: str = ""
    received_at: datetime = Field(sa_type=UTCDateTime)
    reply: str | None = None


class Conversation(SQLModel, table=True):
    """State of the SMS dialogue with one phone number."""

    __tablename__ = "conversation"

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(unique=True, max_length=20)
    state: str = Field("idle", max_length=40)
    context: dict[str, Any] = _json(dict)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EventLog(SQLModel, table=True):
    """Every domain event handled, for audit and for the coordinator's journal."""

    __tablename__ = "event_log"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, index=True)
    payload: dict[str, Any] = _json(dict)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)


def metadata() -> Any:
    """The MetaData holding every table above (for Alembic and tests)."""
    return SQLModel.metadata


# --------------------------------------------------------------------------- disruptions


class Disruption(SQLModel, table=True):
    """Something that changes the published week: a broken bus, a sick counsellor, a site taken.

    Kept as a fact with its period rather than by editing vehicles or sites: it is
    temporary, the planner reads it for the weeks it touches, and coordinators see it in
    the week's changes.
    """

    __tablename__ = "disruption"
    __table_args__ = (
        CheckConstraint(_in("kind", DISRUPTION_KINDS), name="ck_disruption_kind"),
        CheckConstraint("ends_at > starts_at", name="ck_disruption_period"),
        Index("ix_disruption_period", "territory_id", "starts_at", "ends_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    kind: str = Field(max_length=20)
    vehicle_id: int | None = Field(default=None, foreign_key="vehicle.id")
    counsellor_id: int | None = Field(default=None, foreign_key="counsellor.id")
    site_id: int | None = Field(default=None, foreign_key="site.id")
    commune_id: int | None = Field(default=None, foreign_key="commune.id")
    visit_id: int | None = Field(default=None, foreign_key="visit.id", description="the stop cancelled, if any")
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field("", max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WeekChange(SQLModel, table=True):
    """One re-planning of a published week, as coordinators read it (``week changes``)."""

    __tablename__ = "week_change"

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    week: str = Field(max_length=8, index=True)
    disruption_id: int | None = Field(default=None, foreign_key="disruption.id")
    cause_fr: str = Field(max_length=400)
    from_version: int | None = None
    to_version: int | None = None
    lines_fr: list[str] = _json(list)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
