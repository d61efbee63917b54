"""Publishing a week: the newest draft becomes the published version, bookings follow.

The rules (DESIGN.md, "Versions of a week"):

- A week has at most one published version, and ``publish`` takes the newest version
  only. Publishing when the newest is already published does nothing; asking for an
  older version is refused (a newer one replaced it: publishing it would undo that).
- A publish that moves or cancels bookings (or changes the seats held for residents)
  is not done until someone confirmed *this* change: the handler runs the real
  publication (slots, :func:`~rebooking.carry_bookings`, :func:`~rebooking.carry_holds`,
  waiting-list offers), measures what it did (:class:`PublishDiff`), and rolls it back
  with :class:`ConfirmationRequired`. The caller shows the diff and asks again with its
  fingerprint; if the bookings changed in between, the fingerprint no longer matches and
  the new diff is shown instead. The preview is therefore the publication itself, never
  a separate estimate.
- Two publishes at once: the plan rows of the week are locked first (``FOR UPDATE`` on
  PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), so the second one waits
  and then finds the week already published. The status changes are conditional updates
  as well, and a lock timeout or a conflicting write becomes :class:`PublishConflictError`
  (one French line), never a traceback. The published slots are locked before their
  bookings are read, so a booking made meanwhile is either shown and carried or refused.
- A past week cannot be published (the clock is injected).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.exceptions import NotFound, PlanningError, UserFacingError
from mobile_services.domain.messages import Event
from mobile_services.service_layer.calendars import carry_calendar_identity
from mobile_services.service_layer.planning import create_slots, refuse_past_week
from mobile_services.service_layer.rebooking import carry_bookings, carry_holds
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.service_layer.waitlist import offer_new_stops
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, kw_only=True)
class StopChange:
    """A stop that appears, moves or goes between the published version and the new one."""

    commune: str
    site: str
    before: tuple[datetime, datetime] | None = None
    after: tuple[datetime, datetime] | None = None


@dataclass(frozen=True, kw_only=True)
class BookingChange:
    """A booking the new version moves (``after`` set) or cancels (``after`` None)."""

    booking_id: int
    commune: str
    before: datetime
    after: datetime | None = None
    #: Cancelled bookings: the seat held in its place (start, commune), if one was found.
    held: tuple[datetime, str] | None = None


@dataclass(frozen=True, kw_only=True)
class PublishDiff:
    """What publishing ``version`` over ``previous_version`` does, measured on the real run."""

    plan_id: int
    version: int
    previous_id: int | None
    previous_version: int | None
    stops_kept: int = 0
    stops_added: tuple[StopChange, ...] = ()
    stops_moved: tuple[StopChange, ...] = ()
    stops_removed: tuple[StopChange, ...] = ()
    bookings_kept: int = 0
    bookings_moved: tuple[BookingChange, ...] = ()
    bookings_cancelled: tuple[BookingChange, ...] = ()
    holds_kept: int = 0
    holds_moved: int = 0
    holds_withdrawn: int = 0
    #: SMS queued for now, by template kind (stop_moved, stop_cancelled, waitlist_offer...).
    sms_now: dict[str, int] = field(default_factory=dict)
    #: Reminders queued for later (the day before, hours before) for moved bookings.
    reminders: int = 0
    #: Identifies exactly this change to residents: what a confirmation refers to.
    fingerprint: str = ""

    @property
    def needs_confirmation(self) -> bool:
        """Residents lose or change something they were promised."""
        return bool(self.bookings_moved or self.bookings_cancelled or self.holds_moved or self.holds_withdrawn)

    @property
    def sms_count(self) -> int:
        return sum(self.sms_now.values())


@dataclass(frozen=True, kw_only=True)
class PublishOutcome:
    """What :func:`publish_plan` returns: the version now published and what it changed."""

    status: Literal["published", "already_published"]
    plan_id: int
    version: int
    week: str
    published_at: datetime | None
    slots: int = 0
    bookable_seats: int = 0
    #: None when nothing was done (already published).
    diff: PublishDiff | None = None


class ConfirmationRequired(UserFacingError):
    """The publish would move or cancel bookings and nobody confirmed this change (rolled back)."""

    def __init__(self, diff: PublishDiff, week: str, *, changed: bool = False) -> None:
        moved, cancelled = len(diff.bookings_moved), len(diff.bookings_cancelled)
        again = " Les réservations ont changé depuis l'aperçu." if changed else ""
        super().__init__(
            f"publishing {week} v{diff.version} moves {moved} and cancels {cancelled} bookings: confirmation required",
            f"Publication de {week} v{diff.version} non faite : elle déplace {moved} et annule {cancelled} rendez-vous "
            f"({diff.sms_count} SMS).{again} Confirmez-la (ou relancez avec --yes).",
        )
        self.diff = diff
        self.week = week
        self.changed = changed


class PublishConflictError(UserFacingError):
    """Another publication (or another write) of the same week won the race."""


# --------------------------------------------------------------------------- handler


def publish_plan(command: commands.PublishPlan, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> PublishOutcome:
    """Publish the newest version of the week, once, and only as confirmed."""
    now = clock.now()
    refuse_past_week(command.week, now, settings, "publish")
    with uow:
        try:
            outcome = _publish(uow, command, now, settings)
            if outcome.status == "published":
                uow.commit()
        except OperationalError as exc:
            if not _contention(exc):
                raise
            logger.warning("publish of %s for territory %s lost a race: %s", command.week, command.territory_id, exc.orig)
            raise PublishConflictError(
                f"concurrent write while publishing {command.week}",
                f"La semaine {command.week} est modifiée en ce moment par une autre commande (publication en cours ?) : "
                "rien n'a été publié. Relancez « publish » dans un instant pour voir où elle en est.",
            ) from None
    if outcome.diff is not None:
        logger.info(
            "published %s v%s for territory %s: %d bookings kept, %d moved, %d cancelled, %d SMS",
            command.week, outcome.version, command.territory_id, outcome.diff.bookings_kept,
            len(outcome.diff.bookings_moved), len(outcome.diff.bookings_cancelled), outcome.diff.sms_count,
        )  # fmt: skip
    return outcome


def _publish(uow: UnitOfWork, command: commands.PublishPlan, now: datetime, settings: Settings) -> PublishOutcome:
    session = uow.session
    # Lock every version of the week: a concurrent publish waits here, then sees ours.
    versions = session.exec(
        select(t.Plan)
        .where(t.Plan.territory_id == command.territory_id, t.Plan.week == command.week)
        .order_by(col(t.Plan.version))
        .with_for_update()
    ).all()
    target = _target(versions, command)
    if target.status == "published":
        logger.info("%s v%s is already published: nothing to do", command.week, target.version)
        return PublishOutcome(
            status="already_published", plan_id=target.id, version=target.version, week=command.week,  # type: ignore[arg-type]
            published_at=target.published_at,
        )  # fmt: skip
    previous = next((p for p in versions if p.status == "published"), None)
    if previous is None and not _has_stops(session, target):
        # Publishing nothing where nothing was published tells residents nothing and books
        # nothing: a draft with no stop is a failed calculation (too short a --time-limit,
        # every crew away), never what a coordinator means to publish. A later version
        # emptying a published week is different: its confirmation lists every loss.
        raise PlanningError(
            f"{command.week} v{target.version} has no stop: nothing to publish",
            f"Le plan {command.week} v{target.version} n'a aucun arrêt : rien n'est publié. Relancez le calcul avec "
            f"plus de temps (mobile-services plan --week {command.week} --time-limit 60), ou vérifiez que des "
            "véhicules et des conseillers sont disponibles cette semaine.",
        )
    before = None
    if previous is not None:
        _lock_slots(session, previous)
        before = _Snapshot.take(session, previous, now)

    with _NewMessages(session) as queued:
        if previous is not None:
            _set_status(session, previous, "published", "superseded", command.week)
        _set_status(session, target, "draft", "published", command.week, published_at=now)
        slots = create_slots(session, target, settings)
        produced: list[Event] = []
        if previous is not None:
            carry_calendar_identity(session, previous, target)
            produced += carry_bookings(session, previous, target, now, settings)
            produced += carry_holds(session, previous, target, now, settings)
        offer_new_stops(session, plan_id=target.id, now=now, settings=settings)  # type: ignore[arg-type]
        session.flush()
    diff = _measure(session, target, previous, before, queued.messages, now)

    if diff.needs_confirmation and not command.confirmed and command.confirmed_diff != diff.fingerprint:
        changed = command.confirmed_diff is not None
        logger.info(
            "publish of %s v%s needs confirmation (%d bookings moved, %d cancelled%s): rolled back",
            command.week, target.version, len(diff.bookings_moved), len(diff.bookings_cancelled),
            ", changed since the preview" if changed else "",
        )  # fmt: skip
        raise ConfirmationRequired(diff, command.week, changed=changed)

    for produced_event in produced:
        uow.emit(produced_event)
    uow.emit(
        events.PlanPublished(
            plan_id=target.id,  # type: ignore[arg-type]
            territory_id=command.territory_id,
            week=command.week,
            superseded_plan_id=previous.id if previous else None,
        )
    )
    if previous is not None:
        uow.emit(
            events.PlanSuperseded(
                plan_id=previous.id, by_plan_id=target.id, territory_id=command.territory_id, week=command.week,  # type: ignore[arg-type]
            )
        )
    seats = session.exec(
        select(t.Slot.capacity)
        .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
        .where(t.Visit.plan_id == target.id, t.Slot.walk_in == False)  # noqa: E712
    ).all()
    return PublishOutcome(
        status="published", plan_id=target.id, version=target.version, week=command.week, published_at=now,  # type: ignore[arg-type]
        slots=slots, bookable_seats=sum(seats), diff=diff,
    )  # fmt: skip


def _contention(exc: OperationalError) -> bool:
    """A lock wait that timed out, a deadlock or a serialisation failure: someone else is writing."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("40001", "40P01", "55P03"):
        return True
    return "database is locked" in str(orig)


def _has_stops(session: Session, plan: t.Plan) -> bool:
    return session.exec(select(t.Visit.id).where(t.Visit.plan_id == plan.id).limit(1)).first() is not None


def _target(versions: Sequence[t.Plan], command: commands.PublishPlan) -> t.Plan:
    """The version to publish: the newest, or the one asked for if it is the newest."""
    week = command.week
    if not versions:
        raise NotFound(
            f"no plan for {week}",
            f"Aucun plan brouillon pour {week} : lancez d'abord « mobile-services plan --week {week} ».",
        )
    newest = versions[-1]
    published = next((p for p in versions if p.status == "published"), None)
    wanted = newest
    if command.version is not None:
        found = [p for p in versions if p.version == command.version]
        if not found:
            raise NotFound(
                f"no version {command.version} of {week}",
                f"Pas de version v{command.version} pour {week} (la dernière est la v{newest.version}).",
            )
        wanted = found[0]
    if wanted.status == "published":
        return wanted
    if published is not None and wanted.version < published.version:
        raise PlanningError(
            f"{week} v{wanted.version} is older than the published v{published.version}",
            f"La v{wanted.version} de {week} est plus ancienne que la version publiée (v{published.version}) : "
            f"elle ne peut plus être publiée. Pour changer le plan, lancez « mobile-services plan --week {week} » "
            "puis publiez la nouvelle version.",
        )
    if wanted.status == "superseded":
        raise PlanningError(
            f"{week} v{wanted.version} was already replaced",
            f"La v{wanted.version} de {week} a déjà été publiée puis remplacée : lancez « mobile-services plan --week {week} » "
            "pour une nouvelle version.",
        )
    if wanted.version != newest.version:
        raise PlanningError(
            f"{week} v{wanted.version} is not the newest draft (v{newest.version})",
            f"La v{wanted.version} de {week} n'est pas le dernier brouillon (v{newest.version}) : seul le dernier "
            f"peut être publié (mobile-services publish --week {week}).",
        )
    return wanted


def _set_status(session: Session, plan: t.Plan, old: str, new: str, week: str, published_at: datetime | None = None) -> None:
    """``plan.status`` from ``old`` to ``new``, only if nobody changed it meanwhile."""
    values: dict[str, Any] = {"status": new}
    if published_at is not None:
        values["published_at"] = published_at
    result = session.execute(update(t.Plan).where(col(t.Plan.id) == plan.id, t.Plan.status == old).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        logger.warning("plan %s was no longer %s when publishing %s", plan.id, old, week)
        raise PublishConflictError(
            f"plan {plan.id} changed status during the publication of {week}",
            f"Une autre publication de {week} vient d'aboutir : rien n'a été publié par cette commande. "
            "Relancez « publish » pour voir la version publiée.",
        )
    session.refresh(plan)


def _lock_slots(session: Session, plan: t.Plan) -> None:
    """Lock the published slots before reading their bookings (PostgreSQL; SQLite has one writer anyway).

    A booking takes its slot's row lock first (:func:`booking.book`): one made meanwhile is
    either committed before we read, so it is shown and carried, or waits for us and then
    finds its plan superseded and is refused. None slips between the diff and the rebooking.
    """
    session.exec(
        select(t.Slot.id).join(t.Visit, col(t.Visit.id) == t.Slot.visit_id).where(t.Visit.plan_id == plan.id).with_for_update(of=t.Slot)  # type: ignore[arg-type]
    ).all()


# --------------------------------------------------------------------------- measuring


class _NewMessages:
    """Collects the outbox rows this session inserts (the SMS the publication queues)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.messages: list[t.Message] = []

    def _collect(self, _session: Any, instance: object) -> None:
        if isinstance(instance, t.Message):
            self.messages.append(instance)

    def __enter__(self) -> _NewMessages:
        event.listen(self.session, "pending_to_persistent", self._collect)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.session, "pending_to_persistent", self._collect)


@dataclass(frozen=True, kw_only=True)
class _Snapshot:
    """The published version's future bookings and open holds, before the publication."""

    bookings: dict[int, tuple[datetime, str, int]]  # booking id -> (slot start, commune, site)
    holds: dict[int, tuple[int, datetime]]  # hold id -> (commune id, slot start)
    visits: list[tuple[int, str, str, datetime, datetime]]  # site id, commune, site, start, end

    @classmethod
    def take(cls, session: Session, plan: t.Plan, now: datetime) -> _Snapshot:
        bookings = {
            booking_id: (start, commune, site_id)
            for booking_id, start, commune, site_id in session.exec(
                select(t.Booking.id, t.Slot.start_at, t.Commune.name, t.Visit.site_id)
                .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
                .join(t.Visit, col(t.Visit.id) == t.Booking.visit_id)
                .join(t.Site, col(t.Site.id) == t.Visit.site_id)
                .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
                .where(t.Visit.plan_id == plan.id, col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES), t.Slot.start_at > now)
            )
        }
        holds = {
            hold_id: (commune_id, start)
            for hold_id, commune_id, start in session.exec(
                select(t.SeatHold.id, t.Site.commune_id, t.Slot.start_at)
                .join(t.Slot, col(t.Slot.id) == t.SeatHold.slot_id)
                .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
                .join(t.Site, col(t.Site.id) == t.Visit.site_id)
                .where(t.Visit.plan_id == plan.id, t.SeatHold.status == "open", t.SeatHold.expires_at > now)
            )
        }
        return cls(bookings=bookings, holds=holds, visits=_visits(session, plan))  # type: ignore[arg-type]


def _visits(session: Session, plan: t.Plan) -> list[tuple[int, str, str, datetime, datetime]]:
    return [
        (site_id, commune, site, start, end)
        for site_id, commune, site, start, end in session.exec(
            select(t.Visit.site_id, t.Commune.name, t.Site.name, t.Visit.start_at, t.Visit.end_at)
            .join(t.Site, col(t.Site.id) == t.Visit.site_id)
            .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
            .where(t.Visit.plan_id == plan.id, t.Visit.status == "planned")
            .order_by(col(t.Visit.start_at), col(t.Visit.id))
        )
    ]


def _stop_changes(
    old: list[tuple[int, str, str, datetime, datetime]], new: list[tuple[int, str, str, datetime, datetime]]
) -> tuple[int, list[StopChange], list[StopChange], list[StopChange]]:
    """(kept, added, moved, removed): a stop of the same site, same day first, nearest in time, is the same stop.

    Stops unchanged (same site, same times) are paired first: a day that lost one of a
    bourg's stops must not show its untouched stop of another day as moved and removed.
    """
    unmatched = list(new)
    kept = 0
    remaining_old = []
    for stop in old:
        same = next((v for v in unmatched if (v[0], v[3], v[4]) == (stop[0], stop[3], stop[4])), None)
        if same is None:
            remaining_old.append(stop)
        else:
            unmatched.remove(same)
            kept += 1
    moved: list[StopChange] = []
    removed: list[StopChange] = []
    for site_id, commune, site, start, end in remaining_old:
        pool = [v for v in unmatched if v[0] == site_id]
        if not pool:
            removed.append(StopChange(commune=commune, site=site, before=(start, end)))
            continue
        match = min(pool, key=lambda v: (v[3].date() != start.date(), abs((v[3] - start).total_seconds())))
        unmatched.remove(match)
        if (match[3], match[4]) == (start, end):
            kept += 1
        else:
            moved.append(StopChange(commune=commune, site=site, before=(start, end), after=(match[3], match[4])))
    added = [StopChange(commune=commune, site=site, after=(start, end)) for _, commune, site, start, end in unmatched]
    return kept, added, moved, removed


def _measure(
    session: Session,
    plan: t.Plan,
    previous: t.Plan | None,
    before: _Snapshot | None,
    queued: list[t.Message],
    now: datetime,
) -> PublishDiff:
    """Compare the state the publication left with the snapshot taken before it."""
    new_visits = _visits(session, plan)
    kept_stops, added, moved_stops, removed = _stop_changes(before.visits if before else [], new_visits)
    kept = 0
    moved: list[BookingChange] = []
    cancelled: list[BookingChange] = []
    holds_kept = holds_moved = holds_withdrawn = 0
    if before is not None and before.bookings:
        rows = session.exec(
            select(t.Booking, t.Slot.start_at, t.Visit.site_id)
            .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
            .join(t.Visit, col(t.Visit.id) == t.Booking.visit_id)
            .where(col(t.Booking.id).in_(before.bookings))
        ).all()
        held = {
            h.cancelled_booking_id: (start, commune)
            for h, start, commune in session.exec(
                select(t.SeatHold, t.Slot.start_at, t.Commune.name)
                .join(t.Slot, col(t.Slot.id) == t.SeatHold.slot_id)
                .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
                .join(t.Site, col(t.Site.id) == t.Visit.site_id)
                .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
                .where(col(t.SeatHold.cancelled_booking_id).in_(before.bookings), t.SeatHold.status == "open")
            )
        }
        for booking, start, site_id in rows:
            old_start, commune, old_site = before.bookings[booking.id]  # type: ignore[index]
            if booking.status not in t.LIVE_BOOKING_STATUSES:
                cancelled.append(BookingChange(booking_id=booking.id, commune=commune, before=old_start, held=held.get(booking.id)))  # type: ignore[arg-type]
            elif start != old_start or site_id != old_site:
                moved.append(BookingChange(booking_id=booking.id, commune=commune, before=old_start, after=start))  # type: ignore[arg-type]
            else:
                kept += 1
    if before is not None and before.holds:
        for hold, commune_id, start in session.exec(
            select(t.SeatHold, t.Site.commune_id, t.Slot.start_at)
            .join(t.Slot, col(t.Slot.id) == t.SeatHold.slot_id)
            .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
            .join(t.Site, col(t.Site.id) == t.Visit.site_id)
            .where(col(t.SeatHold.id).in_(before.holds))
        ):
            if hold.status != "open":
                holds_withdrawn += 1
            elif (commune_id, start) != before.holds[hold.id]:  # type: ignore[index]
                holds_moved += 1
            else:
                holds_kept += 1
    sms_now = Counter(m.kind for m in queued if m.due_at <= now)
    reminders = sum(1 for m in queued if m.due_at > now)
    moved.sort(key=lambda b: (b.before, b.booking_id))
    cancelled.sort(key=lambda b: (b.before, b.booking_id))
    key = repr(
        (
            plan.id,
            previous.id if previous else None,
            [(b.booking_id, b.after.isoformat() if b.after else None) for b in moved],
            [b.booking_id for b in cancelled],
            holds_moved,
            holds_withdrawn,
            sorted(sms_now.items()),
        )
    )
    return PublishDiff(
        plan_id=plan.id,  # type: ignore[arg-type]
        version=plan.version,
        previous_id=previous.id if previous else None,
        previous_version=previous.version if previous else None,
        stops_kept=kept_stops,
        stops_added=tuple(added),
        stops_moved=tuple(moved_stops),
        stops_removed=tuple(removed),
        bookings_kept=kept,
        bookings_moved=tuple(moved),
        bookings_cancelled=tuple(cancelled),
        holds_kept=holds_kept,
        holds_moved=holds_moved,
        holds_withdrawn=holds_withdrawn,
        sms_now=dict(sorted(sms_now.items())),
        reminders=reminders,
        fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16],
    )
