"""Seeded synthetic rural territories for the demo, the tests and the benchmarks.

``generate_territory(seed, n)`` always returns the same territory for the same
arguments (one ``random.Random(seed)``, no global state, no set iteration), shaped
like a rural French département (calibrated on Creuse, Lozère and Cantal):

- communes on a jittered grid over a square of ``area_km`` side (default: 22 km² per
  commune), a few **bourgs** (one in 25, 1,500-6,000 inhabitants, spread out) and
  villages with log-normal populations (median ~ 280, three in four under 500);
- a **digital fragility index** growing with remoteness from the nearest bourg and
  with smallness (a proxy for an older population), plus noise;
- invented French-sounding names (Saint-X, X-sur-Y, X-les-Y, La X...) and
  **INSEE-shaped codes** numbered in alphabetical order like INSEE does, in the
  département ``departement`` (default "23"). They are not real communes: a
  generated territory is always its own Territory, so codes never clash with
  imported real data. Above 999 communes the numbering continues in the next
  metropolitan département code. Postcodes are the nearest bourg's;
- **sites**: a mairie everywhere (a few half-days a week in villages, every weekday in
  bourgs), salles des fêtes, a place du marché with a market day in bourgs and some
  larger villages, a médiathèque in bourgs;
- **buses** (2 desks) at depots in the largest bourgs, two counsellors riding each;
  further counsellors drive their own car (a 'car' vehicle) from home; every skill
  is covered; some counsellors work part-time (a weekday off, often Wednesday).
  Counsellors get no phone number (no real-looking number is ever invented).

The output is a :class:`TerritoryData` built from validated records, so it passes the
importer's validation; the tests check this for many seeds and sizes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from mobile_services.territory.catalogue import catalogue
from mobile_services.territory.departements import DEPARTEMENTS
from mobile_services.territory.records import (
    ZONES,
    CommuneRecord,
    CounsellorRecord,
    SiteRecord,
    TerritoryData,
    VehicleRecord,
)
from mobile_services.territory.vocabulary import SKILLS, fold

KM_PER_DEGREE = 111.32
AREA_PER_COMMUNE_KM2 = 22.0
DEFAULT_CENTRE = (46.08, 2.05)  # the Limousin plateau: room for large territories
BOURG_SHARE = 1 / 25
OPERATOR_SKILLS = ("caf", "ameli", "france_travail", "impots", "ants", "msa", "retraite", "energie")

_METROPOLITAN = [code for code in DEPARTEMENTS if len(code) == 2]

_ROOTS_START = (
    "Cham", "Font", "Mont", "Roch", "Val", "Beau", "Bel", "Cour", "Lav", "Mar", "Sar", "Bour", "Pey", "Ser",
    "Ver", "Lau", "Mas", "Cros", "Gen", "Bord", "Chaz", "Sal", "Aub", "Bes", "Fay", "Lin", "Mer", "Quin",
    "Chât", "Gou", "Jar", "Lour", "Nouz", "Pion", "Roz", "Sain", "Tard", "Vall", "Aign", "Bost", "Chir",
)  # fmt: skip
_ROOTS_END = (
    "ac", "at", "eix", "oux", "ières", "ade", "argues", "as", "on", "ol", "ens", "ieu", "ard", "elle",
    "ignac", "eyrat", "anges", "ouze", "ille", "aux", "erie", "ier", "enne", "oules", "essac", "agnat",
)  # fmt: skip
_SAINTS = (
    "Martin", "Pierre", "Sulpice", "Priest", "Hilaire", "Julien", "Georges", "Yrieix", "Léger", "Silvain",
    "Dizier", "Michel", "Marc", "Étienne", "Victor", "Amand", "Agnant", "Germain", "Laurent", "Vaury",
    "Maurice", "Pardoux", "Éloi", "Médard", "Fiacre", "Junien", "Moreil", "Avit", "Oradoux", "Quentin",
)  # fmt: skip
_SAINTES = ("Feyre", "Marie", "Anne", "Colombe", "Croix", "Radegonde", "Sévère", "Valérie")
_RIVERS = (
    "Creuse", "Gartempe", "Taurion", "Tarde", "Cher", "Vienne", "Sédelle", "Rozeille", "Beauze", "Maulde",
    "Voueize", "Petite-Creuse", "Ardour", "Semme", "Benaize", "Leyrenne",
)  # fmt: skip
_PLURALS = ("Bois", "Monts", "Églises", "Fougères", "Granges", "Forges", "Mines", "Combes", "Prés", "Landes")
_TAILS = ("le-Château", "la-Forêt", "le-Bourg", "en-Combraille", "la-Montagne", "la-Rivière", "le-Haut", "le-Bas")
_FIRST_NAMES = (
    "Claire", "Julien", "Sophie", "Mathieu", "Nathalie", "Thomas", "Céline", "Nicolas", "Isabelle", "Laurent",
    "Émilie", "Sébastien", "Aurélie", "Pierre", "Sandrine", "Antoine", "Marion", "Florian", "Élodie",
    "Guillaume", "Camille", "Romain", "Laure", "Bruno", "Manon", "Hugo", "Léa", "Yannick", "Agnès", "Karim",
)  # fmt: skip
_SURNAMES = (
    "Chabrat", "Lavergne", "Faucher", "Peyrot", "Aubert", "Chassagne", "Delpy", "Mazet", "Bouchet", "Roux",
    "Fayolle", "Rouchon", "Vergne", "Tixier", "Brunet", "Marchand", "Jouannet", "Martin", "Bernard", "Dubois",
    "Moreau", "Simon", "Nouailhac", "Pradeau", "Lagrange", "Bessaud", "Morel", "Barret", "Giraud", "Ben Saïd",
)  # fmt: skip

_MORNING = ("09:00", "12:00")
_AFTERNOON = ("14:00", "17:00")


def generate_territory(
    seed: int,
    n_communes: int,
    *,
    area_km: float | None = None,
    centre: tuple[float, float] = DEFAULT_CENTRE,
    departement: str = "23",
    buses: int = 2,
    counsellors: int | None = None,
    name: str | None = None,
) -> TerritoryData:
    """A synthetic territory of ``n_communes`` communes; same arguments, same result.

    ``area_km`` is the side of the square (default sqrt(22 km² x n)); ``counsellors``
    defaults to two per bus plus one per hundred communes (at least one driving a car).
    """
    if n_communes < 1:
        raise ValueError("n_communes must be at least 1")
    if buses < 0:
        raise ValueError("buses must be >= 0")
    if departement not in _METROPOLITAN:
        raise ValueError(f"departement must be a metropolitan département code, not {departement!r}")
    side = area_km if area_km is not None else math.sqrt(AREA_PER_COMMUNE_KM2 * n_communes)
    if side <= 0:
        raise ValueError("area_km must be positive")
    _check_square(centre, side)
    n_counsellors = counsellors if counsellors is not None else 2 * buses + max(1, n_communes // 100)
    if n_counsellors < 0:
        raise ValueError("counsellors must be >= 0")

    rng = random.Random(seed)
    positions = _positions(rng, n_communes, centre, side)
    bourgs = _spread_out(positions, max(1, round(n_communes * BOURG_SHARE)), centre)
    bourg_set = set(bourgs)
    nearest_bourg, bourg_distance = _nearest(positions, bourgs)
    far = max(bourg_distance) or 1.0

    populations = []
    for index in range(n_communes):
        if index in bourg_set:
            populations.append(round(math.exp(rng.uniform(math.log(1500), math.log(6000)))))
        else:
            populations.append(int(min(1450, max(25, rng.lognormvariate(math.log(280), 0.75)))))

    names = _names(rng, n_communes)
    codes = _insee_codes(names, departement)
    bourg_rank = {index: rank for rank, index in enumerate(sorted(bourgs, key=lambda i: (-populations[i], i)))}
    postcode_of_bourg = {index: _postcode(departement, rank) for index, rank in bourg_rank.items()}

    communes: list[CommuneRecord] = []
    for index in range(n_communes):
        remote = bourg_distance[index] / far
        small = 1 - min(1.0, max(0.0, (math.log(populations[index]) - math.log(25)) / (math.log(6000) - math.log(25))))
        fragility = min(0.95, max(0.05, 0.15 + 0.45 * remote + 0.3 * small + rng.gauss(0, 0.06)))
        latitude, longitude = positions[index]
        communes.append(
            CommuneRecord(
                insee_code=codes[index],
                name=names[index],
                postcodes=[postcode_of_bourg[nearest_bourg[index]]],
                population=populations[index],
                latitude=round(latitude, 6),
                longitude=round(longitude, 6),
                fragility=round(fragility, 2),
            )
        )

    sites = [site for index in range(n_communes) for site in _sites(rng, communes[index], index in bourg_set)]
    vehicles, counsellor_records = _resources(rng, communes, bourgs, populations, buses, n_counsellors)
    return TerritoryData(
        name=name or f"Territoire de synthèse {n_communes} communes (graine {seed})",
        departement=departement,
        communes=sorted(communes, key=lambda c: c.insee_code),
        sites=sites,
        vehicles=vehicles,
        counsellors=counsellor_records,
        services=catalogue(),
    )


# --------------------------------------------------------------------------- geometry


def _degrees(centre: tuple[float, float]) -> tuple[float, float]:
    """Degrees of latitude and longitude per km at ``centre``."""
    return 1 / KM_PER_DEGREE, 1 / (KM_PER_DEGREE * math.cos(math.radians(centre[0])))


def _check_square(centre: tuple[float, float], side: float) -> None:
    dlat, dlon = _degrees(centre)
    half_lat, half_lon = side / 2 * dlat, side / 2 * dlon
    lat_min, lat_max, lon_min, lon_max = ZONES["métropole"]
    if not (
        lat_min <= centre[0] - half_lat
        and centre[0] + half_lat <= lat_max
        and lon_min <= centre[1] - half_lon
        and centre[1] + half_lon <= lon_max
    ):
        raise ValueError(f"a square of {side:.0f} km around {centre} does not fit in metropolitan France")


def _positions(rng: random.Random, n: int, centre: tuple[float, float], side: float) -> list[tuple[float, float]]:
    """n points on a jittered grid: as evenly spread as real communes, never stacked."""
    per_row = math.ceil(math.sqrt(n))
    cell = side / per_row
    dlat, dlon = _degrees(centre)
    cells = rng.sample(range(per_row * per_row), n)
    points = []
    for cell_index in cells:
        row, column = divmod(cell_index, per_row)
        x = (column + rng.uniform(0.15, 0.85)) * cell - side / 2
        y = (row + rng.uniform(0.15, 0.85)) * cell - side / 2
        points.append((centre[0] + y * dlat, centre[1] + x * dlon))
    return points


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance: plenty for a few tens of km."""
    mean_lat = math.radians((a[0] + b[0]) / 2)
    dx = (b[1] - a[1]) * math.cos(mean_lat)
    dy = b[0] - a[0]
    return KM_PER_DEGREE * math.hypot(dx, dy)


def _spread_out(points: Sequence[tuple[float, float]], count: int, centre: tuple[float, float]) -> list[int]:
    """Farthest-point sampling from the point nearest ``centre`` (the chef-lieu)."""
    first = min(range(len(points)), key=lambda i: (_km(points[i], centre), i))
    chosen = [first]
    distance = [_km(point, points[first]) for point in points]
    while len(chosen) < min(count, len(points)):
        best = max(range(len(points)), key=lambda i: (distance[i], -i))
        chosen.append(best)
        distance = [min(d, _km(point, points[best])) for d, point in zip(distance, points, strict=True)]
    return chosen


def _nearest(points: Sequence[tuple[float, float]], bourgs: Sequence[int]) -> tuple[list[int], list[float]]:
    nearest, distances = [], []
    for point in points:
        best = min(bourgs, key=lambda b: (_km(point, points[b]), b))
        nearest.append(best)
        distances.append(_km(point, points[best]))
    return nearest, distances


# --------------------------------------------------------------------------- names and codes


def _root(rng: random.Random) -> str:
    start, end = rng.choice(_ROOTS_START), rng.choice(_ROOTS_END)
    if start[-1] in "aeiouy" and end[0] in "aeiouy":
        start += rng.choice("lrsv")  # Beau + ieu -> Beaulieu, not Beauieu
    return start + end


def _name(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.42:
        return _root(rng)
    if draw < 0.55:
        return f"Saint-{rng.choice(_SAINTS)}"
    if draw < 0.62:
        return f"Sainte-{rng.choice(_SAINTES)}"
    if draw < 0.70:
        return f"Saint-{rng.choice(_SAINTS)}-{rng.choice(('de', 'la', 'les'))}-{_root(rng)}"
    if draw < 0.80:
        return f"{_root(rng)}-sur-{rng.choice(_RIVERS)}"
    if draw < 0.86:
        return f"{_root(rng)}-les-{rng.choice(_PLURALS)}"
    if draw < 0.93:
        root = _root(rng)
        return f"{'La' if root.endswith('e') else 'Le'} {root}"
    return f"{_root(rng)}-{rng.choice(_TAILS)}"


def _names(rng: random.Random, n: int) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()
    for _ in range(n):
        for _attempt in range(30):
            candidate = _name(rng)
            if candidate not in taken:
                break
        else:  # crowded: disambiguate like real homonyms do
            base, number = candidate, 2
            while candidate in taken:
                candidate = f"{base}-{_TAILS[number % len(_TAILS)]}" if number < len(_TAILS) else f"{base} {number}"
                number += 1
        taken.add(candidate)
        names.append(candidate)
    return names


def _sort_key(name: str) -> str:
    """INSEE numbers communes alphabetically, ignoring a leading article."""
    for article in ("Le ", "La ", "Les ", "L'"):
        if name.startswith(article):
            name = name[len(article) :]
    return fold(name)


def _insee_codes(names: Sequence[str], departement: str) -> list[str]:
    order = sorted(range(len(names)), key=lambda i: (_sort_key(names[i]), i))
    start = _METROPOLITAN.index(departement)
    codes = [""] * len(names)
    for rank, index in enumerate(order):
        block, number = divmod(rank, 999)
        dep = _METROPOLITAN[(start + block) % len(_METROPOLITAN)]
        codes[index] = f"{dep}{number + 1:03d}"
    return codes


def _postcode(departement: str, rank: int) -> str:
    prefix = "20" if departement in ("2A", "2B") else departement
    return f"{prefix}{0 if rank == 0 else 100 + 10 * (rank - 1) % 900:03d}"


# --------------------------------------------------------------------------- sites


def _jitter(rng: random.Random, commune: CommuneRecord, metres: float = 250) -> tuple[float, float]:
    dlat, dlon = _degrees((commune.latitude, commune.longitude))
    angle, radius = rng.uniform(0, 2 * math.pi), rng.uniform(20, metres) / 1000
    return (
        round(commune.latitude + radius * math.sin(angle) * dlat, 6),
        round(commune.longitude + radius * math.cos(angle) * dlon, 6),
    )


def _half_days(rng: random.Random, count: int) -> dict[int, list[tuple[str, str]]]:
    """``count`` distinct half-days between Monday morning and Friday afternoon."""
    chosen = sorted(rng.sample(range(10), count))
    hours: dict[int, list[tuple[str, str]]] = {}
    for half_day in chosen:
        day, afternoon = divmod(half_day, 2)
        hours.setdefault(day, []).append(_AFTERNOON if afternoon else _MORNING)
    return hours


def _sites(rng: random.Random, commune: CommuneRecord, bourg: bool) -> list[SiteRecord]:
    code = commune.insee_code
    sites = []
    if bourg:
        mairie_hours = {day: [_MORNING, _AFTERNOON] for day in range(5)}
        if rng.random() < 0.5:
            mairie_hours[5] = [_MORNING]
    else:
        mairie_hours = _half_days(rng, 2 if commune.population < 200 else 3 if commune.population < 500 else 5)
    sites.append(
        SiteRecord(
            commune_insee=code,
            name="Mairie",
            site_kind="mairie",
            address="Le Bourg",
            latitude=commune.latitude,
            longitude=commune.longitude,
            opening_hours=mairie_hours,
            accessible=bourg or rng.random() < 0.75,
            has_power=True,
            bus_parking=bourg or rng.random() < 0.9,
        )
    )
    if bourg or (commune.population >= 150 and rng.random() < 0.5):
        latitude, longitude = _jitter(rng, commune)
        sites.append(
            SiteRecord(
                commune_insee=code,
                name="Salle des fêtes",
                site_kind="salle_des_fetes",
                address="Le Bourg",
                latitude=latitude,
                longitude=longitude,
                opening_hours={day: [("08:00", "19:00")] for day in range(5)},
                accessible=True,
                has_power=True,
                bus_parking=True,
            )
        )
    if bourg or (commune.population >= 800 and rng.random() < 0.3):
        latitude, longitude = _jitter(rng, commune, 150)
        sites.append(
            SiteRecord(
                commune_insee=code,
                name="Place du marché",
                site_kind="place_du_marche",
                address="Place du Marché",
                latitude=latitude,
                longitude=longitude,
                opening_hours={day: [("07:00", "19:00")] for day in range(6)},
                market_day=rng.choice((1, 2, 3, 4, 5, 5)),
                accessible=True,
                has_power=rng.random() < 0.5,
                bus_parking=True,
            )
        )
    if bourg:
        latitude, longitude = _jitter(rng, commune)
        sites.append(
            SiteRecord(
                commune_insee=code,
                name="Médiathèque",
                site_kind="mediatheque",
                address="Rue des Écoles",
                latitude=latitude,
                longitude=longitude,
                opening_hours="mar 14:00-18:00; mer 10:00-12:00 14:00-18:00; ven 14:00-18:00; sam 10:00-12:00",
                accessible=True,
                has_power=True,
                bus_parking=rng.random() < 0.6,
            )
        )
    return sites


# --------------------------------------------------------------------------- vehicles and counsellors


def _resources(
    rng: random.Random,
    communes: Sequence[CommuneRecord],
    bourgs: Sequence[int],
    populations: Sequence[int],
    buses: int,
    n_counsellors: int,
) -> tuple[list[VehicleRecord], list[CounsellorRecord]]:
    depots = sorted(bourgs, key=lambda i: (-populations[i], i))
    vehicles: list[VehicleRecord] = []
    for number in range(buses):
        depot = communes[depots[number % len(depots)]]
        vehicles.append(
            VehicleRecord(
                name=f"Bus {number + 1}",
                vehicle_kind="bus",
                depot_commune_insee=depot.insee_code,
                depot_name=f"Centre technique de {depot.name}",
                desks=2,
                equipment=["connexion_4g", "imprimante", "scanner", "visio"],
            )
        )

    names = _people(rng, n_counsellors)
    counsellors: list[CounsellorRecord] = []
    skill_cycle = list(OPERATOR_SKILLS)
    for number, person in enumerate(names):
        skills = {"numerique_base"}
        for offset in range(3):
            skills.add(skill_cycle[(number * 3 + offset) % len(skill_cycle)])
        for extra in rng.sample(skill_cycle, rng.randint(0, 2)):
            skills.add(extra)
        if number % 2 == 0 or n_counsellors == 1:
            skills.add("atelier")
        draw = rng.random()
        days_off = [] if draw < 0.6 else [2] if draw < 0.85 else [rng.choice((0, 4))]
        by_bus = number < 2 * buses
        if by_bus:
            bus = vehicles[number // 2]
            depot_index = next(i for i, c in enumerate(communes) if c.insee_code == bus.depot_commune_insee)
            home = communes[rng.choice(_closest(communes, depot_index, 12))]
            vehicle_name = bus.name
        else:
            anchor = rng.choice(list(bourgs))
            home = communes[rng.choice(_closest(communes, anchor, 10))]
            vehicle_name = f"Voiture de {person}"
            vehicles.append(
                VehicleRecord(
                    name=vehicle_name,
                    vehicle_kind="car",
                    depot_commune_insee=home.insee_code,
                    depot_name="Domicile",
                    desks=1,
                    speed_kmh=60,
                    cost_per_km=0.35,
                    co2_g_per_km=120,
                    equipment=["ordinateur_portable", "connexion_4g"],
                )
            )
        counsellors.append(
            CounsellorRecord(
                name=person,
                home_commune_insee=home.insee_code,
                home_latitude=home.latitude,
                home_longitude=home.longitude,
                skills=[skill for skill in SKILLS if skill in skills],
                days_off=days_off,
                travel_mode="bus" if by_bus else "car",
                vehicle=vehicle_name,
            )
        )
    return vehicles, counsellors


def _closest(communes: Sequence[CommuneRecord], index: int, count: int) -> list[int]:
    origin = (communes[index].latitude, communes[index].longitude)
    ranked = sorted(range(len(communes)), key=lambda i: (_km(origin, (communes[i].latitude, communes[i].longitude)), i))
    return ranked[:count]


def _people(rng: random.Random, count: int) -> list[str]:
    people: list[str] = []
    taken: set[str] = set()
    for number in range(1, count + 1):
        for _attempt in range(50):
            person = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
            if person not in taken:
                break
        else:
            person = f"{person} ({number})"
        taken.add(person)
        people.append(person)
    return people
