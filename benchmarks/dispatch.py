"""Outbox dispatch throughput to the fake Twilio server, on SQLite or PostgreSQL.

    python -m benchmarks.dispatch --messages 2000 --workers 1,4 [--database-url URL]

Inserts N due messages, then runs ``dispatch_due`` in W concurrent dispatchers (each
with the real Twilio client pointed at the fake server from ``tests/fakes``) until the
outbox is empty; prints messages per second and checks that every idempotency key
reached the fake exactly once. Run from the repository root (it imports the fake from
``tests/fakes``). On PostgreSQL the dispatchers share the outbox with ``FOR UPDATE
SKIP LOCKED``; on SQLite they queue on the database lock.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlmodel import SQLModel

from config import Settings
from mobile_services.service_layer.dispatch import dispatch_due
from mobile_services.service_layer.unit_of_work import UnitOfWorkFactory
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, normalise_url, session_scope
from notifications.twilio_sms import TwilioSmsSender
from tests.fakes.fake_twilio import FakeTwilioServer

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


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


def run(messages: int, workers: int, base_url: str | None) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory() as tmp, FakeTwilioServer() as fake:
        url, schema = _database(base_url, Path(tmp))
        engine = make_engine(url)
        SQLModel.metadata.create_all(engine)
        with session_scope(engine) as session:
            for i in range(messages):
                session.add(
                    t.Message(
                        recipient=f"+336{20000000 + i:08d}", kind="reminder_day_before", body="Rappel : RDV demain.",
                        idempotency_key=f"bench:{i}", due_at=NOW - timedelta(seconds=1),
                        expires_at=NOW + timedelta(days=1),
                    )
                )
        settings = Settings()
        factory = UnitOfWorkFactory(engine)

        def worker() -> None:
            sender = TwilioSmsSender(
                fake.account_sid, fake.auth_token, "MG" + "0" * 32, "https://rdv.example.fr",
                api_base_url=fake.base_url, timeout=10,
            )
            while dispatch_due(factory(), sender, NOW, settings, limit=50).claimed:
                pass

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        keys = Counter(fake_request.field("StatusCallback") for fake_request in fake.requests)
        engine.dispose()
        if schema:
            admin = make_engine(base_url or "")
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return {
        "backend": "postgresql" if base_url else "sqlite",
        "workers": workers,
        "messages": messages,
        "sent": len(keys),
        "duplicates": sum(count - 1 for count in keys.values()),
        "seconds": round(elapsed, 2),
        "per_second": round(messages / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,4", help="comma-separated dispatcher counts")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: a SQLite file)")
    args = parser.parse_args()
    table = Table("backend", "dispatchers", "messages", "sent", "duplicates", "seconds", "msg/s")
    for workers in (int(w) for w in args.workers.split(",")):
        row = run(args.messages, workers, args.database_url)
        table.add_row(*(str(row[k]) for k in ("backend", "workers", "messages", "sent", "duplicates", "seconds", "per_second")))
    Console().print(table)


if __name__ == "__main__":
    main()
