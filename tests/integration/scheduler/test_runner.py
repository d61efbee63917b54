"""The scheduler: static jobs wired to the bus, one leader at a time, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, session_scope
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from scheduler.runner import add_jobs, leader_lock

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_jobs_are_static_and_avoid_the_dst_hour(engine: Engine) -> None:
    scheduler = BackgroundScheduler()
    bus = bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))
    add_jobs(scheduler, bus, Settings(), leader_lock(engine))
    add_jobs(scheduler, bus, Settings(), leader_lock(engine))  # replace_existing: still one of each
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {
        "dispatch_outbox", "reconcile_outbox", "anonymise_inactive", "pass_on_freed_seats", "expire_waitlist_entries", "draft_next_week",
        "send_day_itineraries",
    }
    for job in jobs.values():
        if isinstance(job.trigger, CronTrigger):
            hour = str(job.trigger.fields[5])
            assert hour.isdigit() and not 2 <= int(hour) < 3


def test_dispatch_job_sends_due_messages_through_the_bus(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(t.Message(recipient="+33612345678", kind="confirmation", body="RDV confirmé", idempotency_key="k", due_at=NOW))
    sms = FakeSmsSender()
    scheduler = BackgroundScheduler()
    add_jobs(scheduler, bootstrap(Settings(), engine=engine, sms=sms, clock=FixedClock(NOW)), Settings(), leader_lock(engine))
    scheduler.get_job("dispatch_outbox").func(*scheduler.get_job("dispatch_outbox").args)
    assert [m.body for m in sms.sent] == ["RDV confirmé"]


def test_the_dispatch_job_goes_on_while_runs_come_back_full(engine: Engine) -> None:
    with session_scope(engine) as session:
        for n in range(250):
            session.add(t.Message(recipient=f"+336123456{n % 100:02d}", kind="notice", body=f"n° {n}", idempotency_key=f"k{n}", due_at=NOW))
    sms = FakeSmsSender()
    scheduler = BackgroundScheduler()
    add_jobs(scheduler, bootstrap(Settings(), engine=engine, sms=sms, clock=FixedClock(NOW)), Settings(), leader_lock(engine))
    job = scheduler.get_job("dispatch_outbox")
    job.func(*job.args)
    assert len(sms.sent) == 250, "not 100 a tick: a backlog drains within the tick"


def test_only_one_process_leads(engine: Engine, database_url: str, backend: str) -> None:
    other_engine = make_engine(database_url)
    first, second = leader_lock(engine), leader_lock(other_engine)
    try:
        assert first.is_leader()
        assert not second.is_leader()
        first.release()
        assert second.is_leader()
    finally:
        first.release()
        second.release()
        other_engine.dispose()


def test_retention_forgets_inactive_residents_but_keeps_those_with_a_coming_booking(engine: Engine) -> None:
    old = NOW - timedelta(days=400)
    with session_scope(engine) as session:
        gone = t.Resident(phone="+33611111111", created_at=old, last_seen_at=old)
        recent = t.Resident(phone="+33622222222", created_at=old, last_seen_at=NOW - timedelta(days=10))
        session.add_all([gone, recent])
        session.flush()
        session.add(t.Message(recipient=gone.phone, resident_id=gone.id, kind="confirmation", body="RDV à Ahun", idempotency_key="g", due_at=old, status="sent"))
        session.add(t.InboundMessage(message_sid="SM1", from_phone=gone.phone, body="rdv ahun", received_at=old))
        session.add(t.Conversation(phone="+33611111111", state="idle"))
    bus = bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))
    assert bus.handle(commands.AnonymiseInactiveResidents(older_than_days=365)) == 1
    with Session(engine) as session:
        phones = {r.phone for r in session.exec(select(t.Resident))}
        message = session.exec(select(t.Message)).one()
        inbound = session.exec(select(t.InboundMessage)).one()
        conversations = session.exec(select(t.Conversation)).all()
    assert phones == {None, "+33622222222"}
    assert message.recipient is None and "Ahun" not in message.body
    assert inbound.from_phone is None and "ahun" not in inbound.body
    assert conversations == []


def test_cron_jobs_fire_at_most_once_a_day_outside_02h_03h_across_dst_nights(engine: Engine) -> None:
    scheduler = BackgroundScheduler()
    settings = Settings()
    add_jobs(scheduler, bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW)), settings, leader_lock(engine))
    cron_jobs = [job for job in scheduler.get_jobs() if isinstance(job.trigger, CronTrigger)]
    assert cron_jobs
    for job in cron_jobs:
        for night in (datetime(2026, 3, 27, 12, tzinfo=UTC), datetime(2026, 10, 23, 12, tzinfo=UTC)):
            fires, previous, moment = [], None, night
            while moment < night + timedelta(days=5):
                fire = job.trigger.get_next_fire_time(previous, moment)
                assert fire is not None
                fires.append(fire.astimezone(settings.tz))
                previous, moment = fire, fire + timedelta(seconds=1)
            fires = fires[:-1] if fires[-1] >= night + timedelta(days=5) else fires
            assert all(not 2 <= fire.hour < 3 for fire in fires), fires
            assert len({fire.date() for fire in fires}) == len(fires), f"{job.id}: at most once a day"
            if job.id == "anonymise_inactive":
                assert len(fires) == 5, "every day, DST night included"


def test_dispatch_runs_every_15_to_30_seconds_by_default() -> None:
    assert 15 <= Settings().dispatch_interval_seconds <= 30


def test_retention_also_forgets_numbers_that_texted_but_never_booked(engine: Engine) -> None:
    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=3)
    stranger, newcomer = "+33633333333", "+33644444444"
    with session_scope(engine) as session:
        kept = t.Resident(phone="+33622222222", created_at=old, last_seen_at=recent)
        session.add(kept)
        session.flush()
        session.add_all([
            t.InboundMessage(message_sid="SM-old-stranger", from_phone=stranger, body="rdv a crocq", reply="Quelle commune ?", received_at=old),
            t.InboundMessage(message_sid="SM-old-invalid", from_phone=None, body="je suis Jean Dupont", received_at=old),
            t.InboundMessage(message_sid="SM-new", from_phone=newcomer, body="rdv", received_at=recent),
            t.InboundMessage(message_sid="SM-old-kept", from_phone=kept.phone, body="ANNULER", received_at=old),
            t.Conversation(phone=stranger, state="ask_commune", updated_at=old),
            t.Conversation(phone=newcomer, state="ask_commune", updated_at=recent),
            t.Message(recipient=stranger, kind="reply", body="Quelle commune ?", idempotency_key="s", due_at=old, status="sent", created_at=old),
            t.Message(recipient=kept.phone, resident_id=kept.id, kind="confirmation", body="RDV à Crocq", idempotency_key="k", due_at=recent, status="sent", created_at=recent),
        ])  # fmt: skip
    bus = bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))
    assert bus.handle(commands.AnonymiseInactiveResidents(older_than_days=365)) == 0
    with Session(engine) as session:
        inbound = {m.message_sid: (m.from_phone, m.body, m.reply) for m in session.exec(select(t.InboundMessage))}
        conversations = [c.phone for c in session.exec(select(t.Conversation))]
        outbox = {m.idempotency_key: (m.recipient, m.body) for m in session.exec(select(t.Message))}
        residents = [r.phone for r in session.exec(select(t.Resident))]
    assert inbound == {
        "SM-old-stranger": (None, "[effacé]", None),
        "SM-old-invalid": (None, "[effacé]", None),
        "SM-new": (newcomer, "rdv", None),
        "SM-old-kept": (None, "[effacé]", None),
    }
    assert conversations == [newcomer]
    assert outbox == {"s": (None, "[effacé]"), "k": ("+33622222222", "RDV à Crocq")}
    assert residents == ["+33622222222"]
