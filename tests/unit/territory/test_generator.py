"""The synthetic territory generator: deterministic, realistic, valid."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mobile_services.territory.formats import load_files, write_csv_files
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.records import TerritoryData, haversine_km
from mobile_services.territory.vocabulary import SKILLS


def dump(data: TerritoryData) -> str:
    return data.model_dump_json()


def test_same_seed_same_territory_different_seed_different_territory() -> None:
    assert dump(generate_territory(7, 120)) == dump(generate_territory(7, 120))
    assert dump(generate_territory(7, 120)) != dump(generate_territory(8, 120))


def test_output_does_not_depend_on_string_hashing() -> None:
    """Set iteration order changes with PYTHONHASHSEED; the generator must not care."""
    script = (
        "import hashlib; from mobile_services.territory.generator import generate_territory;"
        "print(hashlib.sha256(generate_territory(3, 150).model_dump_json().encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[3],
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1


@pytest.mark.parametrize(("seed", "size"), [(1, 10), (2, 37), (3, 120), (4, 400), (5, 1000)])
def test_generated_territories_pass_the_importers_validation(seed: int, size: int, tmp_path: Path) -> None:
    data = generate_territory(seed, size)
    assert data.problems() == []
    assert len(data.communes) == size
    # The same validation as `territory import`: write the documented CSV files, read them back.
    again, parsed = load_files(write_csv_files(data, tmp_path))
    assert all(not p.warnings for p in parsed)
    assert again.model_dump(exclude={"name", "departement"}) == data.model_dump(exclude={"name", "departement"})


def test_a_thousand_communes_take_less_than_a_second() -> None:
    started = time.perf_counter()
    generate_territory(11, 1000)
    assert time.perf_counter() - started < 1.0


def test_populations_look_rural_with_a_few_bourgs() -> None:
    data = generate_territory(21, 500)
    populations = [c.population for c in data.communes]
    bourgs = [p for p in populations if p >= 1500]
    assert 200 <= statistics.median(populations) <= 380
    assert 0.65 <= sum(p < 500 for p in populations) / len(populations) <= 0.85
    assert len(bourgs) == round(500 / 25)
    assert all(1500 <= p <= 6000 for p in bourgs)
    assert min(populations) >= 25


def test_fragility_grows_with_remoteness_from_bourgs() -> None:
    data = generate_territory(5, 600)
    bourgs = [(c.latitude, c.longitude) for c in data.communes if c.population >= 1500]
    villages = [c for c in data.communes if c.population < 1500]
    distance = {c.insee_code: min(haversine_km((c.latitude, c.longitude), b) for b in bourgs) for c in villages}
    ranked = sorted(villages, key=lambda c: distance[c.insee_code])
    near, far = ranked[: len(ranked) // 3], ranked[-len(ranked) // 3 :]
    assert statistics.mean(c.fragility for c in far) > statistics.mean(c.fragility for c in near) + 0.1  # type: ignore[misc]
    assert all(0 <= c.fragility <= 1 for c in data.communes)  # type: ignore[operator]


def test_codes_are_numbered_alphabetically_in_the_departement() -> None:
    data = generate_territory(9, 60, departement="48")
    assert [c.insee_code for c in data.communes] == [f"48{n:03d}" for n in range(1, 61)]
    assert data.departement == "48"
    assert all(c.postcodes[0].startswith("48") for c in data.communes)
    assert len({c.name for c in data.communes}) == 60


def test_beyond_999_communes_codes_continue_in_the_next_departement() -> None:
    data = generate_territory(1, 1200)
    assert data.departements() == ["23", "24"]
    assert len({c.insee_code for c in data.communes}) == 1200


def test_every_commune_has_a_mairie_and_bourgs_have_a_market_and_a_library() -> None:
    data = generate_territory(4, 200)
    kinds: dict[str, set[str]] = {}
    for site in data.sites:
        kinds.setdefault(site.commune_insee, set()).add(site.site_kind)
    assert all("mairie" in kinds[c.insee_code] for c in data.communes)
    for bourg in (c for c in data.communes if c.population >= 1500):
        assert {"place_du_marche", "mediatheque", "salle_des_fetes"} <= kinds[bourg.insee_code]
    markets = [s for s in data.sites if s.site_kind == "place_du_marche"]
    assert markets and all(s.market_day is not None for s in markets)
    village_mairies = [
        s for s in data.sites if s.site_kind == "mairie" and s.opening_hours and len(s.opening_hours) < 5
    ]
    assert village_mairies  # villages open their mairie a few half-days only


def test_buses_sit_in_the_largest_bourgs_and_counsellors_cover_every_skill() -> None:
    data = generate_territory(6, 300, buses=3, counsellors=8)
    by_code = {c.insee_code: c for c in data.communes}
    buses = [v for v in data.vehicles if v.vehicle_kind == "bus"]
    largest = sorted(data.communes, key=lambda c: -c.population)[:3]
    assert [by_code[b.depot_commune_insee] for b in buses] == largest
    assert all(b.desks == 2 for b in buses)
    assert len(data.counsellors) == 8
    assert {skill for c in data.counsellors for skill in c.skills} == set(SKILLS)
    riders = [c for c in data.counsellors if c.travel_mode == "bus"]
    drivers = [c for c in data.counsellors if c.travel_mode == "car"]
    assert len(riders) == 6 and len(drivers) == 2
    cars = {v.name: v for v in data.vehicles if v.vehicle_kind == "car"}
    assert all(c.vehicle in cars and cars[c.vehicle].depot_commune_insee == c.home_commune_insee for c in drivers)
    assert all(c.phone is None for c in data.counsellors)


def test_default_counsellors_and_catalogue() -> None:
    data = generate_territory(1, 250, buses=2)
    assert len(data.counsellors) == 2 * 2 + 2
    assert {s.code for s in data.services} >= {"caf", "ameli", "atelier_numerique"}


def test_area_and_centre_place_the_communes() -> None:
    data = generate_territory(2, 100, area_km=20, centre=(44.5, 3.5))
    assert all(haversine_km((44.5, 3.5), (c.latitude, c.longitude)) <= 20 / 2 * 2**0.5 + 0.1 for c in data.communes)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_communes": 0},
        {"n_communes": 10, "departement": "974"},
        {"n_communes": 10, "centre": (51.0, 2.5), "area_km": 60},
        {"n_communes": 10, "buses": -1},
        {"n_communes": 10, "area_km": 0},
    ],
)
def test_impossible_requests_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate_territory(1, **kwargs)  # type: ignore[arg-type]


def test_generated_json_is_plain_data() -> None:
    assert json.loads(dump(generate_territory(1, 5)))["communes"][0]["insee_code"].startswith("23")
