"""Outbox dispatch throughput to the fake Twilio server, on SQLite or PostgreSQL.

    python -m benchmarks.dispatch --messages 2000 --processes 1,2 --concurrency 1,8 \\
        [--provider-latency-ms 100] [--repeat 3] [--database-url URL]

Inserts N due messages, then runs P dispatcher **processes**, each calling
``dispatch_due`` (runs of 100 messages, or 8 per sender, as the scheduler's job does)
with C concurrent senders,
until the outbox is empty. Each sends with the real Twilio client to the fake server
from ``tests/fakes``, which runs in **its own process** and keeps connections alive
(HTTP/1.1), as Twilio does: the provider is not our CPU, and a TCP handshake per
message is not what production pays. ``--provider-latency-ms`` makes the fake answer
each creation that late (Twilio: 100-300 ms), which is what concurrency is for.

Prints messages per second (wall clock, from the dispatchers' common start to the last
one's end), the CPU per message of the dispatchers and of the fake, and checks that every message reached
the fake exactly once (by the outbox id in its status-callback URL) and ended ``sent``.
Run from the repository root (it imports the fake from ``tests/fakes``). On PostgreSQL
the processes share the outbox with ``FOR UPDATE SKIP LOCKED``; on SQLite they queue on
the database lock.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text
from sqlmodel import SQLModel

from config import Settings
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, normalise_url

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
_SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Provider:
    base_url: str
    account_sid: str
    auth_token: str


# --------------------------------------------------------------------------- the fake, in its own process


def _serve_fake(pipe: Connection, keep_alive: bool, delay_s: float) -> None:
    from tests.fakes.fake_twilio import FakeTwilioServer

    with FakeTwilioServer(keep_alive=keep_alive, response_delay_s=delay_s) as fake:
        pipe.send(Provider(fake.base_url, fake.account_sid, fake.auth_token))
        while (order := pipe.recv()) != "stop":
            if order == "cpu":
                pipe.send(time.process_time())
                continue
            assert order == "count"
            pipe.send(Counter(r.field("StatusCallback") for r in fake.requests if r.method == "POST"))


class FakeProvider:
    """The fake Twilio server running in a child process."""

    def __init__(self, *, keep_alive: bool, delay_s: float) -> None:
        self._pipe, child = _SPAWN.Pipe()
        self._process = _SPAWN.Process(target=_serve_fake, args=(child, keep_alive, delay_s), daemon=True)
        self._process.start()
        self.provider: Provider = self._pipe.recv()

    def created(self) -> Counter[str]:
        """How many creation requests each status-callback URL (one per outbox row) received."""
        self._pipe.send("count")
        counts: Counter[str] = self._pipe.recv()
        return counts

    def cpu_seconds(self) -> float:
        """CPU time the fake's process has used so far."""
        self._pipe.send("cpu")
        seconds: float = self._pipe.recv()
        return seconds

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(timeout=10)


# --------------------------------------------------------------------------- dispatchers, in their own processes


def _dispatcher(url: str, provider: Provider, concurrency: int, ready: Any, start: Any, results: Any) -> None:
    from mobile_services.service_layer.dispatch import dispatch_due
    from mobile_services.service_layer.unit_of_work import UnitOfWorkFactory
    from notifications.twilio_sms import TwilioSmsSender

    engine = make_engine(url)
    sender = TwilioSmsSender(
        provider.account_sid, provider.auth_token, "MG" + "0" * 32, "https://rdv.example.fr",
        api_base_url=provider.base_url, timeout=10, pool_size=concurrency,
    )
    settings = Settings(dispatch_concurrency=concurrency)
    factory = UnitOfWorkFactory(engine)
    with engine.connect():
        pass  # connect before the clock starts
    ready.release()
    start.wait()
    cpu = time.process_time()
    sent = 0
    while True:
        report = dispatch_due(factory(), sender, NOW, settings, concurrency=concurrency)  # runs as the job's
        sent += report.sent
        if report.claimed + report.skipped == 0:
            break
    results.put((sent, time.process_time() - cpu))
    engine.dispose()


# --------------------------------------------------------------------------- one measurement


def _database(url: str | None, tmp: Path) -> tuple[str, str | None]:
    """A fresh database: a temporary SQLite file, or a new schema on the given server."""
    if not url:
        return f"sqlite:///{tmp / 'dispatch.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in url else "?"
    return f"{normalise_url(url)}{separator}options=-csearch_path%3D{schema}", schema


def _fill(url: str, messages: int) -> None:
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    rows = [
        {
            "recipient": f"+336{20000000 + i:08d}", "kind": "reminder_day_before", "body": "Rappel : RDV demain.",
            "idempotency_key": f"bench:{i}", "due_at": NOW - timedelta(seconds=1), "expires_at": NOW + timedelta(days=1),
            "status": "pending", "attempts": 0, "created_at": NOW,
        }
        for i in range(messages)
    ]
    with engine.begin() as connection:
        connection.execute(insert(t.Message.__table__), rows)  # type: ignore[attr-defined]
    engine.dispose()


def _statuses(url: str) -> Counter[str]:
    engine = make_engine(url)
    message = t.Message.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        found = Counter(dict(connection.execute(select(message.c.status, func.count()).group_by(message.c.status)).all()))
    engine.dispose()
    return found


def run(
    messages: int, processes: int, concurrency: int, base_url: str | None, *, latency_ms: float = 0, keep_alive: bool = True
) -> dict[str, Any]:
    """One measurement on a fresh database and a fresh fake provider."""
    with tempfile.TemporaryDirectory() as tmp:
        url, schema = _database(base_url, Path(tmp))
        _fill(url, messages)
        fake = FakeProvider(keep_alive=keep_alive, delay_s=latency_ms / 1000)
        try:
            ready, start, results = _SPAWN.Semaphore(0), _SPAWN.Event(), _SPAWN.Queue()
            workers = [
                _SPAWN.Process(target=_dispatcher, args=(url, fake.provider, concurrency, ready, start, results))
                for _ in range(processes)
            ]
            for worker in workers:
                worker.start()
            for _ in workers:
                ready.acquire()
            provider_cpu = fake.cpu_seconds()
            started = time.perf_counter()
            start.set()
            outcomes = [results.get() for _ in workers]
            elapsed = time.perf_counter() - started
            provider_cpu = fake.cpu_seconds() - provider_cpu
            for worker in workers:
                worker.join()
            created = fake.created()
        finally:
            fake.stop()
        final = _statuses(url)
        if schema:
            admin = make_engine(base_url or "")
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    cpu = sum(seconds for _, seconds in outcomes)
    return {
        "backend": "postgresql" if base_url else "sqlite",
        "processes": processes,
        "concurrency": concurrency,
        "latency_ms": latency_ms,
        "messages": messages,
        "sent": len(created),
        "duplicates": sum(count - 1 for count in created.values()),
        "all_sent": final == Counter({"sent": messages}),
        "seconds": round(elapsed, 2),
        "per_second": round(messages / elapsed, 1),
        "cpu_ms_per_message": round(1000 * cpu / messages, 2),
        "provider_cpu_ms_per_message": round(1000 * provider_cpu / messages, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--processes", default="1", help="comma-separated dispatcher process counts")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated senders per process")
    parser.add_argument("--provider-latency-ms", type=float, default=0.0, help="the fake's answer time per message")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per configuration (best and spread shown)")
    parser.add_argument("--no-keep-alive", action="store_true", help="one TCP connection per request (HTTP/1.0)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: a SQLite file)")
    args = parser.parse_args()
    table = Table(
        "backend", "processes", "senders", "latency ms", "messages", "sent", "duplicates", "all sent", "seconds",
        "msg/s", "CPU ms/msg", "fake's CPU ms/msg",
    )
    summary = Table("backend", "processes", "senders", "latency ms", "best msg/s", "spread msg/s")
    configurations = itertools.product(
        [int(p) for p in args.processes.split(",")], [int(c) for c in args.concurrency.split(",")]
    )
    failed = False
    for processes, concurrency in configurations:
        rates = []
        for _ in range(args.repeat):
            row = run(
                args.messages, processes, concurrency, args.database_url,
                latency_ms=args.provider_latency_ms, keep_alive=not args.no_keep_alive,
            )
            failed |= row["duplicates"] > 0 or row["sent"] != args.messages or not row["all_sent"]
            rates.append(row["per_second"])
            table.add_row(*(str(row[k]) for k in (
                "backend", "processes", "concurrency", "latency_ms", "messages", "sent", "duplicates", "all_sent",
                "seconds", "per_second", "cpu_ms_per_message", "provider_cpu_ms_per_message",
            )))  # fmt: skip
        summary.add_row(
            row["backend"], str(processes), str(concurrency), str(args.provider_latency_ms), str(max(rates)),
            f"{min(rates)}-{max(rates)}",
        )
    console = Console(width=max(140, Console().width))
    console.print(table)
    if args.repeat > 1:
        console.print(summary)
    if failed:
        raise SystemExit("a message was lost or sent twice")


if __name__ == "__main__":
    main()
