"""Throughput and latency of the inbound SMS webhook, end to end.

    python -m benchmarks.webhooks --requests 2000 --concurrency 8 [--database-url URL] [--workers N]
    python -m benchmarks.webhooks --rate 50 --concurrency 32 ...   # latency at a given arrival rate

What it does:

1. a fresh database: a SQLite file in a temporary folder by default, or a new
   schema (dropped afterwards) in the PostgreSQL database named by
   ``--database-url``; migrated with Alembic like ``mobile-services serve`` does;
2. a synthetic territory (``--communes``), the service catalogue, and a
   published plan for the week after next, so there are slots to book;
3. the app as it is deployed: ``mobile-services serve --workers N --no-scheduler``
   in its own process group, configured by environment variables only (INFO logs
   to its file, as in production);
4. ``--concurrency`` clients, each playing residents one after the other, each
   resident from its own phone number: RDV, a commune name (sometimes without
   accents or in lower case), 0 at the service question, 1 at the slot offer,
   OUI, and now and then MES RDV. Every request is signed like Twilio's. Clients
   keep their connection open (as Twilio's does) and are plain ``http.client``:
   on a small machine the load generator shares the cores with the server, and a
   heavier client would measure itself.

Two loads: by default each client sends its next message as soon as it is
answered (closed loop: the throughput is the capacity, and the latency grows with
the queue); with ``--rate R`` messages go out at R per second whatever the answers
(open loop, as Twilio delivers them at a peak), so the latency is the one residents
meet at that rate. It prints throughput (requests per second over the whole run) and latency
percentiles, with what the load did (bookings, waiting-list entries). Numbers
depend on the machine: compare runs on the same one.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, func, text
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

PUBLIC_BASE = "https://bench.example.fr"
AUTH_TOKEN = "bench0123456789abcdef0123456789"
OUR_NUMBER = "+33939000000"
ORGANISATION = "Benchmark"
TERRITORY = "Vallée du benchmark"


# --------------------------------------------------------------------------- database


@dataclass
class Database:
    """The fresh database of one run, and how to throw it away."""

    url: str
    label: str
    cleanup: Any = None

    def drop(self) -> None:
        if self.cleanup is not None:
            self.cleanup()


def fresh_database(database_url: str | None) -> Database:
    from mobile_services.storage.db import normalise_url

    if not database_url:
        folder = Path(tempfile.mkdtemp(prefix="ms-bench-"))
        return Database(
            url=f"sqlite:///{(folder / 'bench.db').as_posix()}",
            label="SQLite file (WAL)",
            cleanup=lambda: shutil.rmtree(folder, ignore_errors=True),
        )
    base = normalise_url(database_url)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop_schema() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in base else "?"
    return Database(
        url=f"{base}{separator}options=-csearch_path%3D{schema}",
        label=f"PostgreSQL (schema {schema})",
        cleanup=drop_schema,
    )


def planned_week(now: datetime) -> str:
    """The week after next: wholly in the future, so every slot of it can be booked."""
    year, week, _ = (now + timedelta(days=14)).isocalendar()
    return f"{year}-W{week:02d}"


def prepare(url: str, communes: int, seed: int, plan_seconds: float, week: str) -> tuple[list[str], int]:
    """Migrate, create the territory and publish a week; return commune names and bookable seats."""
    from config import Settings
    from mobile_services.bootstrap import bootstrap
    from mobile_services.domain import commands
    from mobile_services.storage import db
    from mobile_services.storage import tables as t
    from mobile_services.territory.catalogue import seed_catalogue
    from mobile_services.territory.generator import generate_territory
    from mobile_services.territory.store import import_territory_data
    from notifications.fakes import FakeSmsSender
    from notifications.ports import SystemClock

    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        data = generate_territory(seed, communes, buses=2, counsellors=6, name=TERRITORY)
        import_territory_data(engine, data, organisation=ORGANISATION)
        seed_catalogue(engine)
        with Session(engine) as session:
            territory_id = session.exec(select(t.Territory.id)).one()
        assert territory_id is not None
        bus = bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=SystemClock())
        bus.handle(commands.PlanWeek(territory_id=territory_id, week=week, time_limit_s=plan_seconds, seed=seed))
        bus.handle(commands.PublishPlan(territory_id=territory_id, week=week))
        with Session(engine) as session:
            names = list(session.exec(select(t.Commune.name)).all())
            seats = int(
                session.exec(select(func.coalesce(func.sum(t.Slot.capacity), 0)).where(t.Slot.walk_in == False)).one()  # noqa: E712
            )
        return names, seats
    finally:
        engine.dispose()


def outcome_counts(url: str) -> dict[str, int]:
    from mobile_services.storage import db
    from mobile_services.storage import tables as t

    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            return {
                name: int(session.exec(select(func.count()).select_from(table)).one())
                for name, table in (
                    ("inbound messages", t.InboundMessage),
                    ("bookings", t.Booking),
                    ("waiting-list entries", t.WaitlistEntry),
                    ("outbox messages", t.Message),
                )
            }
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- server process


def start_server(url: str, data_dir: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """``mobile-services serve --workers N`` on a free port, configured as in production."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "MOBILE_SERVICES_DATABASE_URL": url,
        "MOBILE_SERVICES_DATA_DIR": data_dir,
        "MOBILE_SERVICES_PUBLIC_BASE_URL": PUBLIC_BASE,
        "MOBILE_SERVICES_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    }
    command = [
        str(Path(sys.executable).with_name("mobile-services")), "serve",
        "--host", "127.0.0.1", "--port", str(port), "--no-scheduler",
        *(["--workers", str(workers)] if workers > 1 else []),
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    return server, f"127.0.0.1:{port}"


def cpu_seconds(session_id: int) -> float | None:
    """CPU time (user + system) used so far by the live processes of ``serve`` (its session: the
    supervisor and every web worker), from /proc; None where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id:  # field 6 of stat: the session id
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --------------------------------------------------------------------------- load


@dataclass
class Load:
    """Shared by the workers: the request budget, timings and answers seen."""

    budget: int
    communes: list[str]
    seed: int
    rate: float | None = None
    """Requests per second to send at (open loop, as Twilio does); None: as fast as answered."""
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _issued: int = 0
    _phones: int = 0
    _next_at: float = 0.0

    def take(self) -> bool:
        """One more request may go: at once, or at its turn when a rate is set."""
        with self._lock:
            if self._issued >= self.budget:
                return False
            self._issued += 1
            if self.rate is None:
                return True
            now = time.perf_counter()
            self._next_at = max(self._next_at + 1 / self.rate, now) if self._next_at else now
            wait = self._next_at - now
        if wait > 0:
            time.sleep(wait)
        return True

    def next_phone(self) -> str:
        with self._lock:
            self._phones += 1
            return f"+336{10_000_000 + self._phones:08d}"

    def record(self, seconds: float, status: int, first_words: str) -> None:
        with self._lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1
            self.replies[first_words] += 1


def _sloppy(name: str, rng: random.Random) -> str:
    """How residents type a commune: often lower case, sometimes without accents or hyphens."""
    draw = rng.random()
    if draw < 0.3:
        name = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    if draw < 0.5:
        name = name.replace("-", " ").replace("Saint ", "st ")
    return name.lower() if rng.random() < 0.6 else name


def _worker(address: str, load: Load, worker: int) -> None:
    rng = random.Random(load.seed * 1000 + worker)
    validator = RequestValidator(AUTH_TOKEN)
    url = f"{PUBLIC_BASE}/sms/inbound"
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)  # one per resident: see the loop

    def say(phone: str, body: str) -> str | None:
        if not load.take():
            return None
        form = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": phone,
            "To": OUR_NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        headers = {
            "X-Twilio-Signature": validator.compute_signature(url, form),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        payload = urlencode(form)
        started = time.perf_counter()
        connection.request("POST", "/sms/inbound", body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        elapsed = time.perf_counter() - started
        messages = [m.text or "" for m in ET.fromstring(text).findall("Message")] if response.status == 200 else []
        reply = "\n".join(messages)
        load.record(elapsed, response.status, " ".join(reply.split()[:2]) or "(no reply)")
        return reply

    try:
        while True:
            # A resident's messages share a connection, the next resident opens a new one: with
            # connections kept for a whole run, the kernel's first spread of 8 connections over
            # N web processes would decide the figure (Twilio's many senders spread evenly).
            connection.close()
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            phone = load.next_phone()
            steps = ["RDV", _sloppy(rng.choice(load.communes), rng)]
            reply = ""
            for body in steps:
                answer = say(phone, body)
                if answer is None:
                    return
                reply = answer
            for _ in range(4):  # answer whatever question comes next, up to the booking
                if reply.startswith("Quel service"):
                    body = "0"
                elif reply.startswith(("Créneaux", "Quelle commune")):
                    body = "1"
                elif reply.startswith("Confirmer"):
                    body = "OUI"
                else:
                    break
                answer = say(phone, body)
                if answer is None:
                    return
                reply = answer
            if rng.random() < 0.2 and say(phone, "MES RDV") is None:
                return
    finally:
        connection.close()


def run_load(address: str, load: Load, concurrency: int) -> float:
    threads = [threading.Thread(target=_worker, args=(address, load, i)) for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="signed inbound webhooks to send")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--communes", type=int, default=60, help="communes of the synthetic territory")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--plan-seconds", type=float, default=5.0, help="solver time for the week's plan")
    parser.add_argument("--workers", type=int, default=1, help="web processes: mobile-services serve --workers N")
    parser.add_argument(
        "--rate", type=float, default=None,
        help="send at this many requests/s (open loop, as Twilio does at a peak) with enough clients; "
        "default: closed loop, each client sends when answered (the capacity)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.workers < 1 or (args.rate is not None and args.rate <= 0):
        parser.error("--requests, --concurrency, --workers and --rate must be positive")

    database = fresh_database(args.database_url)
    data_dir = tempfile.mkdtemp(prefix="ms-bench-data-")
    week = planned_week(datetime.now(UTC))
    server: subprocess.Popen[bytes] | None = None
    try:
        print(f"Preparing {database.label}: {args.communes} communes, plan of {week}...", flush=True)
        communes, seats = prepare(database.url, args.communes, args.seed, args.plan_seconds, week)
        server, address = start_server(database.url, data_dir, args.workers)
        _wait_healthy(address, server)
        load = Load(budget=args.requests, communes=communes, seed=args.seed, rate=args.rate)
        cpu_before = cpu_seconds(server.pid)
        client_before = time.process_time()
        elapsed = run_load(address, load, args.concurrency)
        client_cpu = time.process_time() - client_before
        cpu_after = cpu_seconds(server.pid)
        counts = outcome_counts(database.url)
    finally:
        if server is not None:
            stop_server(server)
        database.drop()
        shutil.rmtree(data_dir, ignore_errors=True)

    latencies_ms = [s * 1000 for s in load.latencies]
    print()
    print(
        f"Inbound SMS webhook, {database.label.split(' (')[0]}: {len(latencies_ms)} requests, "
        f"concurrency {args.concurrency}, serve --workers {args.workers}"
        + (f", sent at {args.rate:g} req/s" if args.rate else "")
    )
    print(f"  territory      {len(communes)} communes, {seats} bookable seats")
    print(f"  throughput     {len(latencies_ms) / elapsed:,.1f} req/s  ({elapsed:.1f} s)")
    print(
        "  latency        "
        f"p50 {_percentile(latencies_ms, 50):.1f} ms, p95 {_percentile(latencies_ms, 95):.1f} ms, "
        f"p99 {_percentile(latencies_ms, 99):.1f} ms, max {max(latencies_ms):.1f} ms"
    )
    if cpu_before is not None and cpu_after is not None:
        per_request = 1000 * (cpu_after - cpu_before) / len(latencies_ms)
        print(
            f"  server CPU     {per_request:.1f} ms per request (all web processes, user + system), "
            f"so about {1000 / per_request:,.0f} req/s per core given to serve"
        )
    print(
        f"  load CPU       {1000 * client_cpu / len(latencies_ms):.1f} ms per request spent by this load generator "
        f"(on the same {os.cpu_count()} cores as the server and the database)"
    )
    print(f"  HTTP statuses  {dict(sorted(load.statuses.items()))}")
    print("  stored         " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print("  replies        " + ", ".join(f"{k!r}: {v}" for k, v in load.replies.most_common(6)))
    return 0 if set(load.statuses) == {200} else 1


def _wait_healthy(address: str, server: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            error = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise RuntimeError(f"mobile-services serve stopped (exit code {server.returncode}): {error[-2000:]}")
        try:
            connection = http.client.HTTPConnection(*address.split(":"), timeout=2)  # type: ignore[arg-type]
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the app did not become healthy")


if __name__ == "__main__":
    raise SystemExit(main())
