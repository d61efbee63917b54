"""A published version replaced by a newer one (PlanSuperseded): nothing keeps pointing at it.

Versions are hand-made copies of the valley's published week (no solver): the same stops,
one moved or dropped. Waiting residents are told of a stop once across versions, a notice
not yet sent about an old stop is withdrawn, one told of a stop the new version dropped
hears of it; a dialogue that offered the old version's slots books the same time in the
new one. Every backend.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands, events
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.fixtures.valley import NOW, WEEK, Valley

RESIDENT = "+33611111111"
_sids = iter(range(10**6))


@pytest.fixture
def bus(engine: Engine, tmp_path: Path) -> MessageBus:
    return bootstrap(Settings(data_dir=tmp_path), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))


def _republish(
    bus: MessageBus, engine: Engine, valley: Valley, *, drop: str | None = None, move: str | None = None,
    elsewhere: tuple[str, int] | None = None,
) -> int:
    """A new version of the week: the published stops, ``drop``'s left out, ``move``'s a day
    later, ``elsewhere`` = (commune, site): that commune's stop at another of its sites, same time."""
    with Session(engine) as session:
        published = session.exec(
            select(t.Plan).where(t.Plan.territory_id == valley.territory_id, t.Plan.status == "published")
        ).one()
        new = t.Plan(territory_id=published.territory_id, week=WEEK, version=published.version + 1, status="draft")
        session.add(new)
        session.flush()
        for visit in session.exec(select(t.Visit).where(t.Visit.plan_id == published.id)).all():
            name = _commune_of(session, visit)
            if name == drop:
                continue
            shift = timedelta(days=1) if name == move else timedelta()
            site_id = elsewhere[1] if elsewhere is not None and name == elsewhere[0] else visit.site_id
            session.add(t.Visit(
                plan_id=new.id, site_id=site_id, day=visit.day + shift, half_day=visit.half_day,  # type: ignore[arg-type]
                start_at=visit.start_at + shift, end_at=visit.end_at + shift, vehicle_id=visit.vehicle_id, crew=visit.crew,
            ))  # fmt: skip
        session.commit()
        new_id = new.id
    bus.handle(commands.PublishPlan(territory_id=valley.territory_id, week=WEEK, confirmed=True))
    return new_id  # type: ignore[return-value]


def _commune_of(session: Session, visit: t.Visit) -> str:
    return session.exec(
        select(t.Commune.name).join(t.Site, col(t.Site.commune_id) == t.Commune.id).where(t.Site.id == visit.site_id)
    ).one()


def _notices(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        return [
            (m.kind, m.status, m.body)
            for m in session.exec(
                select(t.Message).where(col(t.Message.kind).startswith("waitlist")).order_by(col(t.Message.id))
            ).all()
        ]


def _all_sent(engine: Engine) -> None:
    with Session(engine) as session:
        session.exec(update(t.Message).where(t.Message.status == "pending").values(status="sent"))  # type: ignore[call-overload]
        session.commit()


def test_a_replaced_version_is_superseded_once(bus: MessageBus, engine: Engine, valley: Valley) -> None:
    with Session(engine) as session:
        first = session.exec(select(t.Plan.id).where(t.Plan.status == "published")).one()
    second = _republish(bus, engine, valley)
    assert [e for e in bus.handled if isinstance(e, events.PlanSuperseded)] == [
        events.PlanSuperseded(plan_id=first, by_plan_id=second, territory_id=valley.territory_id, week=WEEK)
    ]
    bus.handle(commands.PublishPlan(territory_id=valley.territory_id, week=WEEK))  # already published: nothing
    assert len([e for e in bus.handled if isinstance(e, events.PlanSuperseded)]) == 1


def test_waiting_residents_hear_of_a_stop_once_across_versions_and_of_its_change(
    bus: MessageBus, engine: Engine, valley: Valley
) -> None:
    bus.handle(commands.JoinWaitlist(phone=RESIDENT, commune_id=valley.communes["Guéret"]))
    _republish(bus, engine, valley)
    told = "Bonne nouvelle : un passage est prévu à Guéret le mar. 1er déc. Pour prendre RDV, répondez RDV."
    assert _notices(engine) == [("waitlist_offer", "pending", told)]

    # another version before it went out (the quiet hours): the old notice is withdrawn, one stays
    _republish(bus, engine, valley)
    assert _notices(engine) == [("waitlist_offer", "withdrawn", told), ("waitlist_offer", "pending", told)]
    _all_sent(engine)

    # the stop unchanged in the next version: not announced again
    _republish(bus, engine, valley)
    assert len(_notices(engine)) == 2

    # the stop moves to the next day: the resident hears the new day instead of the old
    _republish(bus, engine, valley, move="Guéret")
    assert _notices(engine)[-1] == (
        "waitlist_offer", "pending",
        "Changement : pas de passage à Guéret le mar. 1er déc., le prochain est le mer. 2 déc. Pour prendre RDV, répondez RDV.",
    )  # fmt: skip
    _all_sent(engine)

    # and then it is dropped with no other stop there: told it is cancelled, once
    _republish(bus, engine, valley, drop="Guéret")
    assert _notices(engine)[-1] == (
        "waitlist_stop_cancelled", "pending",
        "Le passage prévu à Guéret le mer. 2 déc. est annulé. Nous vous préviendrons du prochain passage.",
    )  # fmt: skip
    _republish(bus, engine, valley, drop="Guéret")
    assert [kind for kind, status, _ in _notices(engine) if status != "withdrawn"].count("waitlist_stop_cancelled") == 1
    _all_sent(engine)
    _republish(bus, engine, valley, drop="Guéret")
    assert [kind for kind, status, _ in _notices(engine) if status != "withdrawn"].count("waitlist_stop_cancelled") == 1
    with Session(engine) as session:
        # the notice withdrawn before it went out did not use up one of the request's offers
        assert session.exec(select(t.WaitlistEntry.notified_count)).one() == 2


def _sms(bus: MessageBus, body: str) -> list[str]:
    reply = bus.handle(commands.ReceiveSms(message_sid=f"SM{next(_sids):032d}", from_number=RESIDENT, body=body))
    return list(reply.messages)


def test_a_dialogue_offering_the_old_versions_slots_books_the_same_time_in_the_new_one(
    bus: MessageBus, engine: Engine, valley: Valley
) -> None:
    offer = _sms(bus, "rdv gueret")[0]
    assert offer.startswith("Créneaux à Guéret :\n1) mar. 1er déc. 9h\n")
    second = _republish(bus, engine, valley, drop="Châtel-Guyon")
    _sms(bus, "1")
    assert _sms(bus, "oui") == []  # booked: the confirmation goes through the outbox

    with Session(engine) as session:
        booking, slot, visit = session.exec(
            select(t.Booking, t.Slot, t.Visit)
            .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
            .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
        ).one()
        first_slot = session.get(t.Slot, valley.slots["Guéret"][0])
        assert first_slot is not None
    assert booking.status == "confirmed"
    assert visit.plan_id == second and slot.start_at == first_slot.start_at


def test_a_hold_left_open_on_the_old_version_past_its_time_lapses_with_it(
    bus: MessageBus, engine: Engine, valley: Valley
) -> None:
    booked = bus.handle(commands.BookSlot(phone=RESIDENT, slot_id=valley.slots["Guéret"][0]))
    bus.handle(commands.CancelBooking(booking_id=booked.booking_id, phone=RESIDENT))
    with Session(engine) as session:
        resident_id = session.exec(select(t.Resident.id)).one()
        hold = t.SeatHold(slot_id=valley.slots["Guéret"][1], resident_id=resident_id, cancelled_booking_id=booked.booking_id,  # type: ignore[arg-type]
                          seat=1, created_at=NOW - timedelta(hours=2), expires_at=NOW - timedelta(minutes=5))  # fmt: skip
        session.add(hold)
        session.commit()
        hold_id = hold.id
    _republish(bus, engine, valley)
    assert [e.hold_id for e in bus.handled if isinstance(e, events.HoldExpired)] == [hold_id]  # type: ignore[attr-defined]
    with Session(engine) as session:
        assert session.get(t.SeatHold, hold_id).status == "expired"  # type: ignore[union-attr]


def test_a_booking_moved_to_another_site_at_the_same_time_is_told_and_reminded_there(
    bus: MessageBus, engine: Engine, valley: Valley
) -> None:
    """The stop's site has no stop in the new version, another site of the commune has one
    at the same time: the booking follows it, and the resident is told where (it used to be
    silent, its reminders naming the old place)."""
    booked = bus.handle(commands.BookSlot(phone=RESIDENT, slot_id=valley.slots["Guéret"][0]))
    with Session(engine) as session:
        hall = t.Site(commune_id=valley.communes["Guéret"], name="Salle des fêtes", latitude=46.17, longitude=1.87)
        session.add(hall)
        session.commit()
        hall_id = hall.id
    _republish(bus, engine, valley, elsewhere=("Guéret", hall_id))  # type: ignore[arg-type]

    with Session(engine) as session:
        booking, visit = session.exec(
            select(t.Booking, t.Visit).join(t.Visit, col(t.Visit.id) == t.Booking.visit_id).where(t.Booking.id == booked.booking_id)
        ).one()
        messages = session.exec(
            select(t.Message).where(t.Message.booking_id == booked.booking_id).order_by(col(t.Message.id))
        ).all()
    assert booking.status == "confirmed" and visit.site_id == hall_id and booking.ical_sequence == 1
    [moved] = [m for m in messages if m.kind == "stop_moved"]
    assert moved.body == "Changement : RDV à Guéret déplacé au mar. 1er déc. à 9h, Salle des fetes. Pour annuler, répondez ANNULER."
    pending_reminders = [m for m in messages if m.kind.startswith("reminder") and m.status == "pending"]
    assert pending_reminders and all("Salle des fetes" in m.body for m in pending_reminders)
