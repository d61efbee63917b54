"""The morning SMS: each driver and counsellor with a day gets one SMS with their page link."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.service_layer import access
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock

from .test_plan_week import NOW, small_valley  # noqa: F401  (fixture)

WEEK = "2026-W49"
TUESDAY = date(2026, 12, 1)
SIX_AM = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 06:00 in Paris


def test_each_driver_and_counsellor_of_the_day_gets_one_sms_with_their_link(engine: Engine, small_valley: int) -> None:  # noqa: F811
    settings = Settings(public_base_url="https://rdv.example.fr")
    clock = FixedClock(NOW)
    sms = FakeSmsSender()
    bus = bootstrap(settings, engine=engine, sms=sms, clock=clock)
    planned = bus.handle(commands.PlanWeek(territory_id=small_valley, week=WEEK, time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=small_valley, week=WEEK))
    with session_scope(engine) as session:
        bus_vehicle = session.exec(select(t.Vehicle).where(t.Vehicle.kind == "bus")).one()
        session.add(t.Driver(territory_id=small_valley, name="Marc", phone="06 99 00 00 01", vehicle_id=bus_vehicle.id))
        for n, counsellor in enumerate(session.exec(select(t.Counsellor)).all()):
            counsellor.phone = f"+3369900010{n}"
            session.add(counsellor)
        tuesday = session.exec(select(t.Visit).where(t.Visit.plan_id == planned.plan_id, t.Visit.day == TUESDAY)).all()
        expected = {("vehicle", bus_vehicle.id)} if any(v.vehicle_id == bus_vehicle.id for v in tuesday) else set()
        expected |= {("counsellor", c) for v in tuesday for c in v.crew}
    assert expected, "the valley has stops on Tuesday"

    clock.set(SIX_AM)
    queued = bus.handle(commands.SendDayItineraries())
    again = bus.handle(commands.SendDayItineraries())  # a restart, a late run after downtime
    bus.handle(commands.DispatchDueMessages())  # 06:00 is in the quiet hours: crews' SMS go anyway

    assert again == 0
    with Session(engine) as session:
        rows = session.exec(select(t.Message).where(t.Message.kind == "day_itinerary")).all()
        assert len(rows) == queued == len(expected)
        assert {m.status for m in rows} == {"sent"}
        for message in rows:
            token = message.body.rsplit("/", 1)[1]
            kind = "vehicle" if "/chauffeur/" in message.body else "counsellor"
            link = access.resolve(session, token, kind)
            assert link is not None and (kind, link.subject_id) in expected
            assert message.body.startswith("Bonjour ! Tournée du mar. 1er déc. : ")
            assert f"https://rdv.example.fr/{access.PATHS[kind]}/{token}" in message.body
    assert sorted(s.to for s in sms.sent) == sorted(m.recipient for m in rows)
    assert "+33699000001" in {s.to for s in sms.sent}  # the driver, typed with spaces


def test_no_morning_sms_once_the_day_has_begun(engine: Engine, small_valley: int) -> None:  # noqa: F811
    settings = Settings()
    clock = FixedClock(NOW)
    bus = bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=clock)
    bus.handle(commands.PlanWeek(territory_id=small_valley, week=WEEK, time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=small_valley, week=WEEK))
    with session_scope(engine) as session:
        for n, counsellor in enumerate(session.exec(select(t.Counsellor)).all()):
            counsellor.phone = f"+3369900010{n}"
            session.add(counsellor)
    clock.set(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))  # 17:00: every stop of the day has begun
    assert bus.handle(commands.SendDayItineraries()) == 0
