"""How long a commune's calendar feed takes to build, with a year of stops.

    python -m benchmarks.feeds [--weeks 52] [--stops-per-week 2] [--repeat 50] [--database-url URL]

Builds a territory whose commune has ``stops-per-week`` published stops every week for
``weeks`` weeks (each week its own published plan, every fourth week re-planned once: a
superseded version with a moved and a dropped stop), slots and some bookings; then times
:func:`mobile_services.web.routes.communes.commune_calendar` over the whole year (query,
identity of re-planned stops, iCalendar rendering) and the served 8-week feed through the
app (in-process HTTP, ETag), and prints median and 95th percentile. Run by hand, never as a
timed unit test.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel

from config import Settings
from mobile_services.service_layer.unit_of_work import UnitOfWorkFactory
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine
from mobile_services.web.app import create_app
from mobile_services.web.routes.communes import commune_calendar
from notifications.fakes import FakeSmsSender
from notifications.ical import _event_ical, _timezone_ical
from notifications.ports import FixedClock

START = date(2027, 1, 4)  # a Monday
NOW = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def build(engine, weeks: int, per_week: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as session:
        org = t.Organisation(name="Bench")
        session.add(org)
        session.flush()
        territory = t.Territory(organisation_id=org.id, name="Bench", departement="23", sms_number="+33939000001")  # type: ignore[arg-type]
        session.add(territory)
        session.flush()
        commune = t.Commune(territory_id=territory.id, insee_code="23096", name="Guéret", latitude=46.17, longitude=1.87)  # type: ignore[arg-type]
        session.add(commune)
        session.flush()
        site = t.Site(commune_id=commune.id, name="Place du marché", address="Place Bonnyaud", latitude=46.17, longitude=1.87)  # type: ignore[arg-type]
        vehicle = t.Vehicle(territory_id=territory.id, name="Bus 1", depot_latitude=46.17, depot_longitude=1.87)  # type: ignore[arg-type]
        counsellor = t.Counsellor(territory_id=territory.id, name="A", home_latitude=46.17, home_longitude=1.87, skills=["caf"])  # type: ignore[arg-type]
        session.add_all([site, vehicle, counsellor, t.Service(code="caf", label="CAF", short_label="CAF", required_skill="caf"),
                         t.Service(code="numerique", label="Aide numérique", short_label="Aide")])  # fmt: skip
        session.flush()
        for week in range(weeks):
            monday = START + timedelta(weeks=week)
            versions = 2 if week % 4 == 0 else 1
            for version in range(1, versions + 1):
                plan = t.Plan(
                    territory_id=territory.id, week=f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}",  # type: ignore[arg-type]
                    version=version, status="published" if version == versions else "superseded",
                    published_at=NOW + timedelta(minutes=week * 10 + version),
                )  # fmt: skip
                session.add(plan)
                session.flush()
                for n in range(per_week):
                    if version == versions and versions == 2 and n == per_week - 1:
                        continue  # dropped by the re-plan: shown cancelled
                    day = monday + timedelta(days=n * 2)
                    shift = timedelta(hours=1) if version == 2 and n == 0 else timedelta(0)
                    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + shift
                    visit = t.Visit(
                        plan_id=plan.id, site_id=site.id, day=day, start_at=start, end_at=start + timedelta(hours=3),  # type: ignore[arg-type]
                        vehicle_id=vehicle.id, crew=[counsellor.id], ical_sequence=version - 1,  # type: ignore[list-item,arg-type]
                    )  # fmt: skip
                    session.add(visit)
                    session.flush()
                    if version == 2:
                        visit.ical_origin_id = visit.id - per_week  # continues the first version's stop
                    for i in range(6):
                        session.add(t.Slot(visit_id=visit.id, start_at=start + timedelta(minutes=30 * i),  # type: ignore[arg-type]
                                           end_at=start + timedelta(minutes=30 * (i + 1))))  # fmt: skip
        session.commit()
        return territory.id, commune.id  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--stops-per-week", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'feeds.db'}"
        engine = make_engine(url)
        SQLModel.metadata.create_all(engine)
        territory_id, commune_id = build(engine, args.weeks, args.stops_per_week)
        settings = Settings(data_dir=Path(tmp), public_base_url="https://rdv.example.fr", database_url=url)
        uow = UnitOfWorkFactory(engine)
        with Session(engine) as session:
            commune = session.get(t.Commune, commune_id)
            territory = session.get(t.Territory, territory_id)
        since, until = NOW - timedelta(weeks=3), NOW + timedelta(weeks=args.weeks + 1)
        body = commune_calendar(uow(), commune, territory, settings, since, until)  # type: ignore[arg-type]
        events = body.count(b"BEGIN:VEVENT")
        year = _time(lambda: commune_calendar(uow(), commune, territory, settings, since, until), args.repeat)  # type: ignore[arg-type]

        def cold() -> bytes:
            _event_ical.cache_clear()
            _timezone_ical.cache_clear()
            return commune_calendar(uow(), commune, territory, settings, since, until)  # type: ignore[arg-type]

        first = _time(cold, args.repeat)
        client = TestClient(create_app(settings, engine=engine, clock=FixedClock(NOW), sms=FakeSmsSender()))
        served = _time(lambda: client.get("/communes/23096/calendar.ics").raise_for_status(), args.repeat)
        print(f"{events} events over {args.weeks} weeks ({len(body) // 1024} KB) on {engine.dialect.name}")
        print(f"year feed, first build: median {first[0]:.1f} ms, p95 {first[1]:.1f} ms (no event serialised yet)")
        print(f"year feed, rebuilt:     median {year[0]:.1f} ms, p95 {year[1]:.1f} ms (events already serialised)")
        print(f"8-week feed served:     median {served[0]:.1f} ms, p95 {served[1]:.1f} ms (HTTP in-process)")
        engine.dispose()


def _time(call, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    call()  # warm-up: templates compiled, caches filled
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


if __name__ == "__main__":
    main()
