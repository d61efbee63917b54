"""A small hand-made valley for conversation tests, small enough to reason about by hand.

Eight communes around Guéret (real names, made-up geography where needed), four
stops in the published plan of week 2026-W49, and "now" is the Monday before
(23 November 2026, 10:00 in Paris):

=========================  ========  =========================================================
commune                    postcode  stop
=========================  ========  =========================================================
Guéret                     23000     Tue 1 Dec 9h-10h30, 3 slots (9h, 9h30, 10h) + 1 walk-in;
                                     crew without special skills: no service question
Sainte-Feyre               23000     none, but Guéret is 5 km away: offered Guéret's slots
Saint-Léger-le-Guérétois   23000     none; 6 km from Guéret
Saint-Léger-la-Montagne    87340     Wed 2 Dec 14h-15h, 2 slots (14h, 14h30)
Châtel-Guyon               63140     Thu 3 Dec 9h-10h30, 3 slots; crew skills CAF + impôts:
                                     the service question lists CAF, Impots, Aide numérique
Saint-Sulpice-les-Champs   23480     none, nothing near: waiting list
Saint-Sulpice-le-Dunois    23800     none, nothing near: waiting list
Crocq                      23260     none, nothing near: waiting list
=========================  ========  =========================================================

Communes with close names ("st leger", "saint sulpice") make the ambiguous cases;
postcode 23000 is shared by three communes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from mobile_services.storage import tables as t

#: Monday 23 November 2026, 10:00 in Paris (UTC+1 in winter).
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WEEK = "2026-W49"

# name, insee, postcode, latitude, longitude
_COMMUNES = [
    ("Guéret", "23096", "23000", 46.1714, 1.8717),
    ("Sainte-Feyre", "23193", "23000", 46.1386, 1.9161),
    ("Saint-Léger-le-Guérétois", "23207", "23000", 46.2169, 1.8222),
    ("Saint-Léger-la-Montagne", "87156", "87340", 46.0300, 1.4200),
    ("Châtel-Guyon", "63103", "63140", 45.9227, 3.0647),
    ("Saint-Sulpice-les-Champs", "23245", "23480", 45.9950, 2.1200),
    ("Saint-Sulpice-le-Dunois", "23244", "23800", 46.3030, 1.7260),
    ("Crocq", "23069", "23260", 45.8667, 2.3667),
]


@dataclass
class Valley:
    """Ids of what the fixture created, by name, for tests to refer to."""

    territory_id: int
    communes: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
    #: bookable slot ids of each commune's stop, in time order
    slots: dict[str, list[int]] = field(default_factory=dict)


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    """Paris wall-clock time in winter (UTC+1) as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


def build_valley(engine: Engine) -> Valley:
    """Create the valley described in the module docstring; return its ids."""
    with Session(engine, expire_on_commit=False) as session:
        organisation = t.Organisation(name="CC du Pays de Guéret (test)")
        session.add(organisation)
        session.flush()
        territory = t.Territory(organisation_id=organisation.id, name="Pays de Guéret", departement="23")  # type: ignore[arg-type]
        session.add(territory)
        session.flush()
        valley = Valley(territory_id=territory.id)  # type: ignore[arg-type]
        communes: dict[str, t.Commune] = {}
        for name, insee, postcode, lat, lon in _COMMUNES:
            commune = t.Commune(
                territory_id=territory.id,  # type: ignore[arg-type]
                insee_code=insee, name=name, postcodes=[postcode], population=800, latitude=lat, longitude=lon,
            )  # fmt: skip
            session.add(commune)
            communes[name] = commune
        services = {
            "caf": t.Service(code="caf", label="CAF : allocations", short_label="CAF", required_skill="caf",
                             documents=["numéro d'allocataire", "RIB"]),
            "impots": t.Service(code="impots", label="Impôts : déclaration en ligne", short_label="Impots",
                                required_skill="impots", documents=["avis d'imposition"]),
            "ameli": t.Service(code="ameli", label="Assurance maladie", short_label="Ameli / CPAM",
                               required_skill="ameli", documents=["carte Vitale"]),
            "numerique": t.Service(code="numerique", label="Aide numérique", short_label="Aide numérique"),
            "atelier": t.Service(code="atelier", label="Atelier smartphone", short_label="Atelier",
                                 is_group=True, group_capacity=6),
        }  # fmt: skip
        session.add_all(services.values())
        vehicle = t.Vehicle(territory_id=territory.id, name="Bus 1", depot_latitude=46.17, depot_longitude=1.87)  # type: ignore[arg-type]
        generalist = t.Counsellor(territory_id=territory.id, name="Agent A", home_latitude=46.17, home_longitude=1.87)  # type: ignore[arg-type]
        specialist = t.Counsellor(
            territory_id=territory.id, name="Agent B", home_latitude=46.17, home_longitude=1.87,  # type: ignore[arg-type]
            skills=["caf", "impots"],
        )  # fmt: skip
        session.add_all([vehicle, generalist, specialist])
        session.flush()
        valley.communes = {name: c.id for name, c in communes.items()}  # type: ignore[misc]
        valley.services = {code: s.id for code, s in services.items()}  # type: ignore[misc]

        plan = t.Plan(territory_id=territory.id, week=WEEK, status="published", published_at=NOW)  # type: ignore[arg-type]
        session.add(plan)
        session.flush()
        stops = [
            ("Guéret", date(2026, 12, 1), 9, 3, [generalist]),
            ("Saint-Léger-la-Montagne", date(2026, 12, 2), 14, 2, [generalist]),
            ("Châtel-Guyon", date(2026, 12, 3), 9, 3, [specialist]),
        ]
        for name, day, hour, count, crew in stops:
            commune = communes[name]
            site = t.Site(commune_id=commune.id, name=f"Mairie de {name}", latitude=commune.latitude,  # type: ignore[arg-type]
                          longitude=commune.longitude)  # fmt: skip
            session.add(site)
            session.flush()
            start = _utc(day, hour)
            visit = t.Visit(
                plan_id=plan.id, site_id=site.id, day=day, half_day="am" if hour < 12 else "pm",  # type: ignore[arg-type]
                start_at=start, end_at=start + timedelta(minutes=30 * (count + 1)), vehicle_id=vehicle.id,  # type: ignore[arg-type]
                crew=[c.id for c in crew],
            )  # fmt: skip
            session.add(visit)
            session.flush()
            slots = [
                t.Slot(visit_id=visit.id, start_at=start + timedelta(minutes=30 * i),  # type: ignore[arg-type]
                       end_at=start + timedelta(minutes=30 * (i + 1)), capacity=1)
                for i in range(count)
            ]  # fmt: skip
            walk_in = t.Slot(
                visit_id=visit.id, start_at=start + timedelta(minutes=30 * count),  # type: ignore[arg-type]
                end_at=start + timedelta(minutes=30 * (count + 1)), capacity=1, walk_in=True,
            )  # fmt: skip
            session.add_all([*slots, walk_in])
            session.flush()
            valley.visits[name] = visit.id  # type: ignore[assignment]
            valley.slots[name] = [s.id for s in slots]  # type: ignore[misc]
        session.commit()
    return valley
