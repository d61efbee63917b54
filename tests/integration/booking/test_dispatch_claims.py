"""Batch claims with a lease, fenced attempts, and several senders at once (issue 19, points 4 and 7)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.service_layer import outbox_claims
from mobile_services.service_layer.booking import messaging_rules, withdraw_pending
from mobile_services.service_layer.dispatch import STATEMENT_CONNECTIONS, dispatch_due
from mobile_services.service_layer.unit_of_work import UnitOfWorkFactory
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.fakes import FakeSmsSender
from notifications.ports import OutgoingSms, SendResult

from .conftest import NOW

LEASE = timedelta(seconds=30)


def add_due(engine: Engine, count: int, *, to: str | None = None) -> list[int]:
    with session_scope(engine) as session:
        rows = [
            t.Message(
                recipient=to or f"+336120000{n:02d}", kind="notice", body=f"Message {n}", idempotency_key=f"k{n}",
                due_at=NOW - timedelta(seconds=count - n),
            )
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]  # type: ignore[misc]


def statuses(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [m.status for m in session.exec(select(t.Message).order_by(col(t.Message.id)))]


def claim(engine: Engine, token: str, size: int, at=NOW) -> list[int]:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        batch = outbox_claims.claim_batch(
            connection, token=token, now=at, lease=LEASE, size=size, rules=messaging_rules(Settings()),
        )
    return [row.id for row in batch.rows]


def attempt(engine: Engine, row_id: int, token: str, at=NOW) -> bool:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        return outbox_claims.attempt(connection, row_id, token, at)


@pytest.fixture
def settings() -> Settings:
    # No quiet hours: NOW is 10:00 in Paris anyway, but the rows' times must not matter here.
    return Settings(public_base_url="https://rdv.example.fr", dispatch_claim_lease_seconds=int(LEASE.total_seconds()))


def test_rows_a_dead_dispatcher_claimed_stay_pending_and_go_after_the_lease(engine: Engine, settings: Settings) -> None:
    ids = add_due(engine, 5)
    assert claim(engine, "dead", 3) == ids[:3]  # ...and the claimer is killed before any attempt
    assert statuses(engine) == ["pending"] * 5, "claimed is not attempted: nothing uncertain"
    sms = FakeSmsSender()
    report = dispatch_due(UnitOfWorkFactory(engine)(), sms, NOW, settings)
    assert report.sent == 2 and sorted(m.outbox_id for m in sms.sent) == ids[3:], "the claim keeps others off its rows"
    report = dispatch_due(UnitOfWorkFactory(engine)(), sms, NOW + LEASE, settings)
    assert report.sent == 3 and sorted(m.outbox_id for m in sms.sent) == ids
    with Session(engine) as session:
        assert session.exec(select(t.Message).where(col(t.Message.claim_token).is_not(None))).all() == []


def test_a_claimer_past_its_lease_cannot_attempt_a_row_another_has_claimed(engine: Engine) -> None:
    [row] = add_due(engine, 1)
    assert claim(engine, "slow", 1) == [row]
    assert claim(engine, "other", 1) == [], "still leased"
    later = NOW + LEASE
    assert claim(engine, "other", 1, at=later) == [row]
    assert not attempt(engine, row, "slow", at=later), "fenced: the row is someone else's now"
    assert attempt(engine, row, "other", at=later)
    assert statuses(engine) == ["sending"]


def test_a_row_withdrawn_after_its_claim_is_not_attempted(engine: Engine) -> None:
    [row] = add_due(engine, 1)
    assert claim(engine, "mine", 1) == [row]
    with session_scope(engine) as session:
        assert withdraw_pending(session) == 1  # e.g. its booking was cancelled
    assert not attempt(engine, row, "mine")
    assert statuses(engine) == ["withdrawn"]


class SlowSender(FakeSmsSender):
    """Answers after ``delay_s``; checks each row was committed ``sending`` before its call; counts calls in flight."""

    def __init__(self, engine: Engine, delay_s: float) -> None:
        super().__init__()
        self.engine = engine
        self.delay_s = delay_s
        self.in_flight: set[str] = set()
        self.most_in_flight = 0
        self.overlapping_numbers: list[str] = []
        self.not_attempted: list[int | None] = []
        self._guard = threading.Lock()

    def send(self, message: OutgoingSms) -> SendResult:
        with Session(self.engine) as session:  # another connection: sees only what was committed
            row = session.get(t.Message, message.outbox_id)
            if row is None or row.status != "sending":
                self.not_attempted.append(message.outbox_id)
        with self._guard:
            if message.to in self.in_flight:
                self.overlapping_numbers.append(message.to)
            self.in_flight.add(message.to)
            self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        time.sleep(self.delay_s)
        with self._guard:
            self.in_flight.discard(message.to)
        return super().send(message)


@pytest.fixture
def slow_sender(engine: Engine) -> Iterator[SlowSender]:
    yield SlowSender(engine, delay_s=0.02)


def test_senders_work_side_by_side_each_row_attempted_and_committed_before_its_call(
    engine: Engine, settings: Settings, slow_sender: SlowSender
) -> None:
    ids = add_due(engine, 40)
    report = dispatch_due(UnitOfWorkFactory(engine)(), slow_sender, NOW, settings, concurrency=4)
    assert (report.claimed, report.sent) == (40, 40)
    assert slow_sender.not_attempted == []
    assert 1 < slow_sender.most_in_flight <= 4
    assert sorted(m.outbox_id for m in slow_sender.sent) == ids
    assert statuses(engine) == ["sent"] * 40


def test_messages_to_one_number_never_leave_together_and_keep_their_order(
    engine: Engine, settings: Settings, slow_sender: SlowSender
) -> None:
    same = add_due(engine, 6, to="+33612345678")
    with session_scope(engine) as session:
        for n in range(6):
            session.add(t.Message(
                recipient=f"+336987654{n:02d}", kind="notice", body=f"Autre {n}", idempotency_key=f"o{n}", due_at=NOW,
            ))  # fmt: skip
    report = dispatch_due(UnitOfWorkFactory(engine)(), slow_sender, NOW, settings, concurrency=4)
    assert report.sent == 12
    assert slow_sender.overlapping_numbers == []
    assert [m.outbox_id for m in slow_sender.sent if m.to == "+33612345678"] == same


def test_the_limit_bounds_a_run_and_leaves_no_claim_behind(engine: Engine, settings: Settings) -> None:
    add_due(engine, 30)
    report = dispatch_due(UnitOfWorkFactory(engine)(), FakeSmsSender(), NOW, settings, limit=7, concurrency=3)
    assert report.sent == 7
    with Session(engine) as session:
        claimed = session.exec(select(t.Message).where(col(t.Message.claim_token).is_not(None))).all()
    assert claimed == [] and statuses(engine).count("pending") == 23


def test_a_failing_send_in_one_sender_is_recorded_with_its_event(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        resident = t.Resident(phone="+33612000003")
        session.add(resident)
        session.flush()
        resident_id = resident.id
    add_due(engine, 8)
    with session_scope(engine) as session:
        row = session.exec(select(t.Message).where(t.Message.recipient == "+33612000003")).one()
        row.resident_id = resident_id
    sms = FakeSmsSender()
    sms.fail_for("+33612000003", SendResult.permanent_error(21610, "unsubscribed", http_status=400))
    uow = UnitOfWorkFactory(engine)()
    report = dispatch_due(uow, sms, NOW, settings, concurrency=4)
    assert (report.sent, report.failed) == (7, 1)
    assert [type(e).__name__ for e in uow.collect_new_events()] == ["ResidentUnreachable"]


@contextmanager
def sender_connection(engine: Engine) -> Iterator[Connection]:
    """As a sender writes: one autocommit statement on PostgreSQL, a transaction on SQLite."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")
    else:
        with engine.begin() as connection:
            yield connection


def test_an_outcome_and_the_next_attempt_are_written_together_each_on_its_own_merits(engine: Engine) -> None:
    first, second, third = add_due(engine, 3)
    assert claim(engine, "mine", 2) == [first, second]
    assert attempt(engine, first, "mine")
    accepted = outbox_claims.Accepted(first, "SM" + "1" * 32, "accepted", NOW)
    with sender_connection(engine) as connection:
        assert outbox_claims.record_sent_and_attempt(connection, accepted, second, "mine", NOW) == ("sent", True)
    refused = outbox_claims.Accepted(second, "SM" + "2" * 32, "accepted", NOW)
    with sender_connection(engine) as connection:  # the third row was never claimed: not ours to attempt
        assert outbox_claims.record_sent_and_attempt(connection, refused, third, "mine", NOW) == ("sent", False)
    with Session(engine) as session:
        rows = session.exec(select(t.Message).order_by(col(t.Message.id))).all()
    assert [(r.status, r.provider_sid) for r in rows] == [
        ("sent", "SM" + "1" * 32), ("sent", "SM" + "2" * 32), ("pending", None),  # the third was never claimed
    ]


def test_a_database_error_in_one_sender_stops_the_run_without_hanging_or_stranding_rows(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_due(engine, 12, to="+33612345678")  # one number: the others wait for its calls
    with session_scope(engine) as session:
        for n, number in enumerate(f"+336987654{n:02d}" for n in range(8)):
            session.add(t.Message(recipient=number, kind="notice", body=f"x{n}", idempotency_key=f"x{n}", due_at=NOW))
    real = outbox_claims.record_sent_and_attempt
    calls = []

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox_claims, "record_sent_and_attempt", failing)
    sms = FakeSmsSender()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            dispatch_due(UnitOfWorkFactory(engine)(), sms, NOW, settings, concurrency=4)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the run hung"
    assert isinstance(outcome[0], RuntimeError)
    with Session(engine) as session:
        rows = session.exec(select(t.Message)).all()
    assert [r.id for r in rows if r.claim_token is not None] == [], "the run's unattempted claims were released"
    sent = {m.outbox_id for m in sms.sent}
    assert sent and {r.id for r in rows if r.status == "sent"} == sent, "every answered call recorded"
    assert {r.status for r in rows if r.id not in sent} == {"pending"}, "the others wait for the next run"


class PoolWatchingSender(FakeSmsSender):
    """Answers after a delay, noting calls in flight and the engine's connections checked out."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.in_flight = 0
        self.most_in_flight = 0
        self.most_connections = 0
        self._guard = threading.Lock()

    def send(self, message: OutgoingSms) -> SendResult:
        with self._guard:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.most_connections = max(self.most_connections, self.engine.pool.checkedout())  # type: ignore[attr-defined]
        time.sleep(0.03)
        with self._guard:
            self.in_flight -= 1
        return super().send(message)


def test_dozens_of_senders_share_a_few_database_connections(engine: Engine, settings: Settings) -> None:
    add_due(engine, 96)
    sender = PoolWatchingSender(engine)
    report = dispatch_due(UnitOfWorkFactory(engine)(), sender, NOW, settings, concurrency=32)
    assert report.sent == 96
    assert sender.most_in_flight > 16
    assert sender.most_connections <= STATEMENT_CONNECTIONS + 1, "not one connection per sender"
