"""Dispatch killed with SIGKILL at random points, restarted each time: every message sent once.

Real ``mobile-services scheduler`` processes send through the official Twilio client to
the fake Twilio server, which counts what it receives. Each kill may leave at most the
one message in flight uncertain; reconciliation then settles it without a duplicate.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, session_scope, upgrade
from tests.e2e.processes import start_scheduler
from tests.fakes.fake_twilio import FakeTwilioServer, Fault

MESSAGES = 240
KILLS = 6
#: Each message takes Twilio this long to answer: a run of 100 lasts a few seconds, long
#: enough for kills to land in the middle of batches.
ANSWER_DELAY_S = 0.02
FAST = {
    "dispatch_interval_seconds": "1",
    "reconcile_interval_seconds": "1",
    "outbox_stale_after_seconds": "2",
}


def statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(dict(session.exec(select(t.Message.status, func.count()).group_by(t.Message.status)).all()))


def wait_for(predicate, timeout: float, process) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, "the scheduler exited on its own"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sigkilled_dispatchers_send_every_message_exactly_once(
    tmp_path: Path, empty_database_url: str, fake_twilio: FakeTwilioServer
) -> None:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with session_scope(engine) as session:
        for n in range(MESSAGES):
            session.add(t.Message(
                recipient=f"+336{n % 7:02d}000{n % 11:03d}", kind="confirmation", body=f"RDV confirmé n° {n}",
                idempotency_key=f"crash:{n}", due_at=datetime.now(UTC),
            ))  # fmt: skip
    fake_twilio.fail_next(Fault.slow(ANSWER_DELAY_S), times=10 * MESSAGES)  # answered, just not at once
    rng = random.Random(19)
    uncertain_after_kill: list[int] = []
    try:
        for kill in range(KILLS):
            process = start_scheduler(empty_database_url, tmp_path / "data", fake_twilio, **FAST)
            created_before = len(fake_twilio.messages)
            wait_for(lambda: len(fake_twilio.messages) > created_before, 60, process)
            time.sleep(rng.uniform(0.0, 1.0))  # somewhere in the batch
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            uncertain_after_kill.append(statuses(engine)["sending"])
        process = start_scheduler(empty_database_url, tmp_path / "data", fake_twilio, **FAST)
        wait_for(lambda: statuses(engine)["sent"] == MESSAGES, 120, process)
        time.sleep(2.5)  # a stale row would show up by now
        process.terminate()
        process.wait(timeout=20)
    finally:
        engine.dispose()

    log = (tmp_path / "data" / "mobile-services.log").read_text(encoding="utf-8")
    print(  # the figures the README quotes (pytest -s)
        f"kills={KILLS} messages={MESSAGES} requests={len(fake_twilio.messages)} "
        f"uncertain={uncertain_after_kill} reconciled-sent={log.count('had reached the provider')} "
        f"reconciled-pending={log.count('never reached the provider')}"
    )
    bodies = Counter(m["body"] for m in fake_twilio.messages)
    assert set(bodies) == {f"RDV confirmé n° {n}" for n in range(MESSAGES)}
    assert [body for body, count in bodies.items() if count > 1] == [], "no message reached Twilio twice"
    assert all(count <= 1 for count in uncertain_after_kill), uncertain_after_kill
    assert statuses(engine) == Counter({"sent": MESSAGES})
    assert sum(uncertain_after_kill) >= 1, "no kill landed during a call: the test did not test the crash"
