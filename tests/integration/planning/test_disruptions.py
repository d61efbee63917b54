"""Disruptions re-plan the published week by themselves (on every backend).

The scenario of the issue: a published week with bookings, then the bus is declared
unavailable on Tuesday from 10:00. Afterwards every affected booking is kept on a moved
stop (the resident told the new time), or has a seat held nearby, or is cancelled with
the waiting list; each affected resident gets exactly one message; the other days do
not move; the driver and counsellors of the changed day are told; the week's changes
list it all.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.domain.exceptions import InvalidInput, NotFound
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock

from .test_plan_week import NOW, small_valley  # noqa: F401  (fixture)

PARIS = ZoneInfo("Europe/Paris")
WEEK = "2026-W49"
TUESDAY = date(2026, 12, 1)
RESIDENT_KINDS = ("stop_moved", "stop_cancelled")


def _bus(engine: Engine):  # type: ignore[no-untyped-def]
    settings = Settings(replan_time_limit_seconds=2)
    return bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))


def _published_week_with_bookings(engine: Engine, territory_id: int) -> tuple[int, int, dict[int, str]]:
    """Plan and publish week 49, give the bus a driver, book the first seat of every slot.

    Returns the bus's id, the published plan's id and the phone of each booking.
    """
    bus = _bus(engine)
    planned = bus.handle(commands.PlanWeek(territory_id=territory_id, week=WEEK, time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=territory_id, week=WEEK))
    with session_scope(engine) as session:
        vehicle = session.exec(select(t.Vehicle).where(t.Vehicle.kind == "bus")).one()
        session.add(t.Driver(territory_id=territory_id, name="Marc Driver", phone="+33699000001", vehicle_id=vehicle.id))
        for index, counsellor in enumerate(session.exec(select(t.Counsellor)).all()):
            counsellor.phone = f"+3369900010{index}"
            session.add(counsellor)
        slots = session.exec(
            select(t.Slot).join(t.Visit).where(t.Visit.plan_id == planned.plan_id, t.Slot.walk_in == False)  # noqa: E712
            .order_by(col(t.Slot.start_at))
        ).all()
        slot_ids = [s.id for s in slots]
        vehicle_id = vehicle.id
    phones: dict[int, str] = {}
    for n, slot_id in enumerate(slot_ids):
        phone = f"+336{10000000 + n:08d}"
        confirmation = bus.handle(commands.BookSlot(phone=phone, slot_id=slot_id))
        phones[confirmation.booking_id] = phone
    return vehicle_id, planned.plan_id, phones  # type: ignore[return-value]


def test_a_bus_out_on_tuesday_from_ten_replans_that_day_and_tells_everyone_once(engine: Engine, small_valley: int) -> None:  # noqa: F811
    vehicle_id, v1, phones = _published_week_with_bookings(engine, small_valley)
    out_from = datetime.combine(TUESDAY, time(10, 0), PARIS)
    with Session(engine) as session:
        booked = session.exec(select(t.Booking, t.Visit).join(t.Visit, col(t.Visit.id) == t.Booking.visit_id)
                               .where(t.Visit.plan_id == v1)).all()  # fmt: skip
        # Tuesday is re-planned, all its routes: any of its bookings may move
        affected = {b.id for b, v in booked if v.day == TUESDAY}
        on_the_broken_bus = {b.id for b, v in booked if v.vehicle_id == vehicle_id and v.day == TUESDAY and v.end_at > out_from}
        other_days = {
            (v.site_id, v.vehicle_id, v.start_at)
            for v in session.exec(select(t.Visit).where(t.Visit.plan_id == v1, t.Visit.day != TUESDAY))
        }
        messages_before = {m.id for m in session.exec(select(t.Message)).all()}
        starts = {b: session.get(t.Slot, session.get(t.Booking, b).slot_id).start_at for b in affected}  # type: ignore[union-attr]
    assert on_the_broken_bus, "the valley's bus must have bookings on Tuesday after 10:00"

    bus = _bus(engine)
    bus.handle(commands.DeclareVehicleUnavailable(
        vehicle_id=vehicle_id, starts_at=out_from, ends_at=datetime.combine(TUESDAY, time(23, 59), PARIS), reason="panne",
    ))  # fmt: skip

    with Session(engine) as session:
        published = session.exec(select(t.Plan).where(t.Plan.week == WEEK, t.Plan.status == "published")).one()
        assert published.id != v1
        new_visits = session.exec(select(t.Visit).where(t.Visit.plan_id == published.id)).all()
        # the bus does nothing on Tuesday after 10:00; the other days did not move
        assert not [v for v in new_visits if v.vehicle_id == vehicle_id and v.day == TUESDAY and v.end_at > out_from]
        assert {(v.site_id, v.vehicle_id, v.start_at) for v in new_visits if v.day != TUESDAY} == other_days
        # every affected resident: moved (told), held seat (told) or cancelled with the waiting list (told)
        new_messages = [m for m in session.exec(select(t.Message)).all() if m.id not in messages_before]
        per_resident = Counter(m.recipient for m in new_messages if m.kind in RESIDENT_KINDS)
        for booking_id in on_the_broken_bus:  # none is left on the broken bus
            booking = session.get(t.Booking, booking_id)
            assert booking is not None
            assert booking.status == "cancelled" or session.get(t.Visit, booking.visit_id).vehicle_id != vehicle_id  # type: ignore[union-attr]
        told_now = set()
        for booking_id in affected:
            booking = session.get(t.Booking, booking_id)
            assert booking is not None
            phone = phones[booking_id]
            if booking.status == "confirmed":  # kept, on a stop of the new version
                assert session.get(t.Visit, booking.visit_id).plan_id == published.id  # type: ignore[union-attr]
                new_start = session.get(t.Slot, booking.slot_id).start_at  # type: ignore[union-attr]
                if new_start == starts[booking_id]:
                    assert per_resident[phone] == 0  # same time, same place: nothing to tell
                    continue
                assert [m.kind for m in new_messages if m.recipient == phone and m.kind in RESIDENT_KINDS] == ["stop_moved"]
            else:
                assert booking.status == "cancelled", booking
                held = session.exec(select(t.SeatHold).where(t.SeatHold.cancelled_booking_id == booking_id)).first()
                waiting = session.exec(select(t.WaitlistEntry).where(t.WaitlistEntry.resident_id == booking.resident_id)).first()
                assert held is not None or waiting is not None
            assert per_resident[phone] == 1, (phone, per_resident)
            told_now.add(phone)
        assert told_now, "the breakdown changed nobody's booking: the scenario tests nothing"
        # nobody unaffected heard anything
        affected_phones = {phones[b] for b in affected}
        assert set(per_resident) <= affected_phones
        # the driver and the crew of Tuesday's bus are told, once each
        staff = Counter(m.recipient for m in new_messages if m.kind == "staff_day_changed")
        assert staff["+33699000001"] == 1
        assert all(count == 1 for count in staff.values())
        to_driver = next(m.body for m in new_messages if m.recipient == "+33699000001")
        assert "Tournée du mar. 1er déc." in to_driver and "Feuille de route : http://127.0.0.1:8000/chauffeur/" in to_driver
        # the coordinator reads what happened
        change = session.exec(select(t.WeekChange).where(t.WeekChange.week == WEEK)).one()
        assert change.cause_fr.startswith("Bus") and "indisponible le 01/12 de 10:00 à la fin de la journée" in change.cause_fr and "(panne)" in change.cause_fr
        assert change.from_version == 1 and change.to_version == published.version
        text = "\n".join(change.lines_fr)
        assert f"Rendez-vous : " in text and "Marc Driver" in text
        assert f"{len([b for b in affected if session.get(t.Booking, b).status == 'cancelled'])} annulé" in text  # type: ignore[union-attr]


def test_a_disruption_of_a_week_not_published_is_kept_for_its_plan(engine: Engine, small_valley: int) -> None:  # noqa: F811
    bus = _bus(engine)
    with Session(engine) as session:
        vehicle = session.exec(select(t.Vehicle).where(t.Vehicle.kind == "bus")).one()
    bus.handle(commands.DeclareVehicleUnavailable(
        vehicle_id=vehicle.id, starts_at=datetime.combine(TUESDAY, time(0), PARIS),  # type: ignore[arg-type]
        ends_at=datetime.combine(TUESDAY, time(23, 59), PARIS), reason="contrôle technique",
    ))  # fmt: skip
    with Session(engine) as session:
        assert session.exec(select(t.Plan)).all() == []
        assert session.exec(select(t.WeekChange)).all() == []
    planned = bus.handle(commands.PlanWeek(territory_id=small_valley, week=WEEK, time_limit_s=2))
    with Session(engine) as session:
        tuesday = session.exec(select(t.Visit).where(t.Visit.plan_id == planned.plan_id, t.Visit.day == TUESDAY,
                                                     t.Visit.vehicle_id == vehicle.id)).all()  # fmt: skip
        assert tuesday == []
    assert any("indisponible (contrôle technique)" in m for m in planned.messages)


def test_a_cancelled_stop_is_replaced_on_its_day_and_blocks_its_site(engine: Engine, small_valley: int) -> None:  # noqa: F811
    vehicle_id, v1, _ = _published_week_with_bookings(engine, small_valley)
    with Session(engine) as session:
        visit = session.exec(select(t.Visit).where(t.Visit.plan_id == v1, t.Visit.day == TUESDAY).order_by(col(t.Visit.start_at))).first()
        assert visit is not None
    bus = _bus(engine)
    bus.handle(commands.CancelStop(visit_id=visit.id, reason="salle prise"))  # type: ignore[arg-type]
    with Session(engine) as session:
        published = session.exec(select(t.Plan).where(t.Plan.week == WEEK, t.Plan.status == "published")).one()
        again = session.exec(select(t.Visit).where(t.Visit.plan_id == published.id, t.Visit.site_id == visit.site_id,
                                                   t.Visit.day == TUESDAY)).all()  # fmt: skip
        assert again == []
        change = session.exec(select(t.WeekChange)).one()
        assert change.cause_fr.startswith(f"Arrêt n° {visit.id} annulé") and "(salle prise)" in change.cause_fr
    with pytest.raises(InvalidInput):
        bus.handle(commands.CancelStop(visit_id=visit.id))  # type: ignore[arg-type]


def test_bad_disruptions_are_refused_in_french(engine: Engine, small_valley: int) -> None:  # noqa: F811
    bus = _bus(engine)
    with pytest.raises(NotFound, match="vehicle 999"):
        bus.handle(commands.DeclareVehicleUnavailable(
            vehicle_id=999, starts_at=datetime(2026, 12, 1, tzinfo=UTC), ends_at=datetime(2026, 12, 2, tzinfo=UTC)))  # fmt: skip
    with Session(engine) as session:
        vehicle = session.exec(select(t.Vehicle)).first()
    with pytest.raises(InvalidInput) as refused:
        bus.handle(commands.DeclareVehicleUnavailable(
            vehicle_id=vehicle.id, starts_at=datetime(2026, 12, 2, tzinfo=UTC), ends_at=datetime(2026, 12, 1, tzinfo=UTC)))  # type: ignore[union-attr]  # fmt: skip
    assert refused.value.french() == "La fin de l'indisponibilité doit être après son début."
    with pytest.raises(InvalidInput):
        bus.handle(commands.ReportDemand(commune_id=1, count=0))
    with Session(engine) as session:
        assert session.exec(select(t.Disruption)).all() == []


def test_the_coordinator_is_told_of_an_automatic_replanning(engine: Engine, small_valley: int) -> None:  # noqa: F811
    vehicle_id, _, _ = _published_week_with_bookings(engine, small_valley)
    settings = Settings(replan_time_limit_seconds=2, coordinator_phone="06 98 76 54 32")
    bus = bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))
    bus.handle(commands.DeclareVehicleUnavailable(
        vehicle_id=vehicle_id, starts_at=datetime.combine(TUESDAY, time(10, 0), PARIS),
        ends_at=datetime.combine(TUESDAY, time(23, 59), PARIS), reason="panne",
    ))  # fmt: skip
    with Session(engine) as session:
        [told] = session.exec(select(t.Message).where(t.Message.kind == "coordinator_replanned")).all()
        vehicle = session.get(t.Vehicle, vehicle_id)
        published = session.exec(select(t.Plan).where(t.Plan.week == WEEK, t.Plan.status == "published")).one()
    assert told.recipient == "+33698765432"
    assert told.body.startswith(f"{vehicle.name} indisponible : {WEEK} re-planifiée et publiée (v{published.version}), ")  # type: ignore[union-attr]
    assert told.body.endswith("Détail : mobile-services week changes")
