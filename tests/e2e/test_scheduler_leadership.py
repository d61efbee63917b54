"""Several `mobile-services scheduler` processes: one runs the jobs, another takes over.

Real processes; each writes its own log file, whose DEBUG lines ``job X started`` /
``job X finished`` tell who ran what and when. Intervals are shortened to a second.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from mobile_services.storage.db import make_engine, upgrade
from scheduler.runner import ADVISORY_LOCK_NAMESPACE
from tests.conftest import PG_URL_ENV
from tests.e2e.processes import start_scheduler
from tests.fakes.fake_twilio import FakeTwilioServer

FAST = {"dispatch_interval_seconds": "1", "reconcile_interval_seconds": "1", "log_level": "DEBUG"}
JOB_LINE = re.compile(r"^(\S+ \S+) (\d+) DEBUG scheduler\.runner: job (\w+) (started|finished)", re.MULTILINE)
LEADS = "now runs the scheduled jobs"
LOST = "lost the scheduler lock"


class Scheduler:
    """One scheduler process and what its log says."""

    def __init__(self, name: str, database_url: str, tmp_path: Path, fake: FakeTwilioServer) -> None:
        self.data_dir = tmp_path / name
        self.process: subprocess.Popen[bytes] = start_scheduler(database_url, self.data_dir, fake, **FAST)

    def log(self) -> str:
        path = self.data_dir / "mobile-services.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def runs(self) -> list[tuple[datetime, str, str]]:
        """(time, job id, started|finished) in order."""
        return [(_time(m[1]), m[3], m[4]) for m in JOB_LINE.finditer(self.log())]

    def starts_after(self, moment: datetime) -> int:
        return sum(1 for when, _, what in self.runs() if what == "started" and when > moment)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")


def wait_until(predicate, timeout: float = 60) -> float:  # type: ignore[no-untyped-def]
    """Seconds it took for ``predicate`` to hold (fails after ``timeout``)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - start


def assert_never_both(first: Scheduler, second: Scheduler) -> None:
    """No job run of one process overlaps a job run of the other."""
    intervals = []
    for name, scheduler in (("first", first), ("second", second)):
        open_runs: dict[str, datetime] = {}
        for when, job, what in scheduler.runs():
            if what == "started":
                open_runs[job] = when
            elif job in open_runs:
                intervals.append((open_runs.pop(job), when, name, job))
    intervals.sort()
    for (start_a, end_a, who_a, job_a), (start_b, _end_b, who_b, job_b) in zip(intervals, intervals[1:]):
        if who_a != who_b:
            assert start_b >= end_a, f"{job_a} of {who_a} and {job_b} of {who_b} ran at the same time"


def leader_switches(first: Scheduler, second: Scheduler) -> int:
    starts = sorted(
        [(when, "first") for when, _, what in first.runs() if what == "started"]
        + [(when, "second") for when, _, what in second.runs() if what == "started"]
    )
    return sum(1 for (_, a), (_, b) in zip(starts, starts[1:]) if a != b)


def test_one_scheduler_runs_the_jobs_and_another_takes_over_when_it_is_killed(
    tmp_path: Path, empty_database_url: str, fake_twilio: FakeTwilioServer
) -> None:
    upgrade(empty_database_url)
    first = Scheduler("first", empty_database_url, tmp_path, fake_twilio)
    second: Scheduler | None = None
    try:
        wait_until(lambda: first.starts_after(datetime.min) >= 2)
        second = Scheduler("second", empty_database_url, tmp_path, fake_twilio)
        wait_until(lambda: "Tâches planifiées lancées" in (second.data_dir / "output.txt").read_text(encoding="utf-8"))
        time.sleep(3)
        assert second.runs() == [], "the standby ran a job while the leader was alive"
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        handover = wait_until(lambda: second.starts_after(datetime.min) >= 2, timeout=60)
        assert LEADS in second.log()
        assert handover < 60
        print(f"handover after SIGKILL: {handover:.1f} s")  # the figure the README quotes (pytest -s)
        assert_never_both(first, second)
        assert leader_switches(first, second) == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()


@pytest.mark.skipif(not os.environ.get(PG_URL_ENV), reason="needs a PostgreSQL server (MOBILE_SERVICES_TEST_DATABASE_URL)")
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_leader_whose_lock_session_is_terminated_stops_running_jobs(
    tmp_path: Path, empty_database_url: str, fake_twilio: FakeTwilioServer
) -> None:
    postgres_url = empty_database_url
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    first = Scheduler("first", postgres_url, tmp_path, fake_twilio)
    second: Scheduler | None = None
    try:
        wait_until(lambda: first.starts_after(datetime.min) >= 2)
        second = Scheduler("second", postgres_url, tmp_path, fake_twilio)
        wait_until(lambda: "Tâches planifiées lancées" in (second.data_dir / "output.txt").read_text(encoding="utf-8"))
        time.sleep(2)
        with engine.connect() as connection:
            [holder] = connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
                    " AND classid::bigint = :ns AND objid::bigint = (hashtext(current_schema())::bigint & 4294967295)"
                ),
                {"ns": ADVISORY_LOCK_NAMESPACE},
            ).scalars().all()
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder}).scalar()
        cut = datetime.now()
        wait_until(lambda: LOST in first.log(), timeout=30)
        # Whoever wins the lock now leads alone; give both a few job periods to misbehave.
        wait_until(lambda: first.starts_after(cut) + second.starts_after(cut) >= 3, timeout=30)  # type: ignore[union-attr]
        time.sleep(4)
        assert_never_both(first, second)
        assert leader_switches(first, second) <= 1, "both kept running jobs after the lock was cut"
        assert (first.starts_after(cut) == 0) != (second.starts_after(cut) == 0), "exactly one leads after the cut"
        with engine.connect() as connection:
            holders = connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::bigint = :ns"
                    " AND objid::bigint = (hashtext(current_schema())::bigint & 4294967295)"
                ),
                {"ns": ADVISORY_LOCK_NAMESPACE},
            ).scalar()
        assert holders == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()
        engine.dispose()
