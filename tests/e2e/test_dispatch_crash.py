"""Dispatch killed with SIGKILL at random points, restarted each time: every message sent once.

Real ``mobile-services scheduler`` processes send through the official Twilio client to
the fake Twilio server, which counts what it receives. Dispatchers claim due messages in
batches but attempt (mark ``sending``, committed) each one right before its own call, so
a kill leaves at most as many messages uncertain as it had calls in flight: one with
``dispatch_concurrency`` 1, at most N with N. Reconciliation then settles each without a
duplicate, and the rows a killed dispatcher claimed but never attempted, still
``pending``, are sent by the next one once the claim's lease lapses.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, session_scope, upgrade
from tests.e2e.processes import start_scheduler
from tests.fakes.fake_twilio import FakeTwilioServer

KILLS = 6
FAST = {
    "dispatch_interval_seconds": "1",
    "reconcile_interval_seconds": "1",
    "outbox_stale_after_seconds": "2",
    "dispatch_claim_lease_seconds": "2",
}


def statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(dict(session.exec(select(t.Message.status, func.count()).group_by(t.Message.status)).all()))


def claimed_not_attempted(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(t.Message.status == "pending", col(t.Message.claim_token).is_not(None))
        ).one()


def wait_for(predicate, timeout: float, process) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, "the scheduler exited on its own"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("concurrency", "messages", "answer_delay_s"),
    [
        # One call in flight: at most one uncertain message per kill (issue 19, point 4).
        pytest.param(1, 400, 0.02, id="one-sender"),
        # Four calls in flight, each answered in 50 ms: at most four uncertain per kill.
        pytest.param(4, 700, 0.05, id="four-senders"),
    ],
)
def test_sigkilled_dispatchers_send_every_message_exactly_once(
    tmp_path: Path, empty_database_url: str, concurrency: int, messages: int, answer_delay_s: float
) -> None:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with session_scope(engine) as session:
        for n in range(messages):
            session.add(t.Message(
                recipient=f"+336{n % 7:02d}000{n % 11:03d}", kind="confirmation", body=f"RDV confirmé n° {n}",
                idempotency_key=f"crash:{n}", due_at=datetime.now(UTC),
            ))  # fmt: skip
    settings = {**FAST, "dispatch_concurrency": str(concurrency)}
    rng = random.Random(19)
    uncertain_after_kill: list[int] = []
    claimed_after_kill: list[int] = []
    # Every creation is answered late (the message exists meanwhile, as at Twilio): kills land mid-call.
    with FakeTwilioServer(response_delay_s=answer_delay_s) as fake_twilio:
        try:
            for _ in range(KILLS):
                process = start_scheduler(empty_database_url, tmp_path / "data", fake_twilio, **settings)
                created_before = len(fake_twilio.messages)
                wait_for(lambda: len(fake_twilio.messages) > created_before, 60, process)
                time.sleep(rng.uniform(0.0, 1.0))  # somewhere in a batch
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                uncertain_after_kill.append(statuses(engine)["sending"])
                claimed_after_kill.append(claimed_not_attempted(engine))
            process = start_scheduler(empty_database_url, tmp_path / "data", fake_twilio, **settings)
            wait_for(lambda: statuses(engine)["sent"] == messages, 120, process)
            time.sleep(2.5)  # a stale row would show up by now
            process.terminate()
            process.wait(timeout=20)
        finally:
            created = fake_twilio.messages
            final = statuses(engine)
            left_claimed = claimed_not_attempted(engine)
            engine.dispose()

    log = (tmp_path / "data" / "mobile-services.log").read_text(encoding="utf-8")
    print(  # the figures the README quotes (pytest -s)
        f"concurrency={concurrency} kills={KILLS} messages={messages} requests={len(created)} "
        f"uncertain={uncertain_after_kill} claimed-not-attempted={claimed_after_kill} "
        f"reconciled-sent={log.count('had reached the provider')} "
        f"reconciled-pending={log.count('never reached the provider')}"
    )
    bodies = Counter(m["body"] for m in created)
    assert set(bodies) == {f"RDV confirmé n° {n}" for n in range(messages)}
    assert [body for body, count in bodies.items() if count > 1] == [], "no message reached Twilio twice"
    assert all(count <= concurrency for count in uncertain_after_kill), uncertain_after_kill
    assert final == Counter({"sent": messages})
    assert left_claimed == 0
    assert sum(uncertain_after_kill) >= 1, "no kill landed during a call: the test did not test the crash"
    assert sum(claimed_after_kill) >= 1, "no kill left claimed rows behind: the lease was not tested"
    if concurrency > 1:
        assert max(uncertain_after_kill) > 1, "never more than one call in flight: concurrency was not tested"
