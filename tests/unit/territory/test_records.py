"""Row validation: what a coordinator may write, and what each mistake is called."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mobile_services.territory.errors import MAX_ERRORS, RowError, TerritoryImportError
from mobile_services.territory.records import (
    CommuneRecord,
    CounsellorRecord,
    Origin,
    ServiceRecord,
    SiteRecord,
    TerritoryData,
    VehicleRecord,
    departement_of,
    parse_spans,
    row_errors,
)

AHUN_LIKE = {"name": "Bourg-de-Sédelle", "population": 2412, "latitude": 46.241, "longitude": 1.872}


def commune(**changes: Any) -> CommuneRecord:
    return CommuneRecord(**{"insee_code": "23501", **AHUN_LIKE, **changes})


def errors_of(model: type, values: dict[str, Any]) -> list[RowError]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(values)
    return row_errors(caught.value, Origin(file="f.csv", line=7))


# --------------------------------------------------------------------------- communes


@pytest.mark.parametrize(
    ("code", "departement"),
    [("23001", "23"), ("01001", "01"), ("2A004", "2A"), ("2b033", "2B"), ("97411", "974"), ("97611", "976")],
)
def test_insee_codes_of_every_kind_are_accepted_and_give_their_departement(code: str, departement: str) -> None:
    lat, lon = {"974": (-21.1, 55.5), "976": (-12.8, 45.1), "2A": (41.9, 8.7), "2B": (42.5, 9.2)}.get(
        departement, (46.2, 1.9)
    )
    record = commune(insee_code=code, latitude=lat, longitude=lon)
    assert record.insee_code == code.upper()
    assert record.departement == departement == departement_of(record.insee_code)


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("2300", "zéro initial"),
        ("230011", "n'est pas un code INSEE"),
        ("20004", "2A ou 2B"),
        ("96001", "n'est pas un code INSEE"),
        ("97501", "n'est pas un code INSEE"),
        ("23A01", "n'est pas un code INSEE"),
        ("", "n'est pas un code INSEE"),
    ],
)
def test_bad_insee_codes_are_refused_with_a_hint(code: str, hint: str) -> None:
    (error,) = errors_of(CommuneRecord, {"insee_code": code, **AHUN_LIKE})
    assert error.field == "insee_code"
    assert hint in error.reason_fr


def test_spreadsheet_numbers_are_read_with_french_conventions() -> None:
    record = commune(
        population="2 412", latitude="46,241", longitude=" 1,872 ", postcodes="23300, 23301", fragility="0,3"
    )
    assert (record.population, record.latitude, record.longitude) == (2412, 46.241, 1.872)
    assert record.postcodes == ["23300", "23301"]
    assert record.fragility == 0.3


def test_negative_population_says_it_must_be_a_positive_integer() -> None:
    errors = errors_of(CommuneRecord, {"insee_code": "23501", **{**AHUN_LIKE, "population": "-12"}})
    assert [(e.field, e.reason_fr) for e in errors] == [("population", "doit être un entier positif (lu : « -12 »)")]
    assert errors[0].french() == "f.csv, ligne 7, champ « population » : doit être un entier positif (lu : « -12 »)"
    assert errors[0].english() == "f.csv, line 7, field 'population': must be a non-negative integer, got '-12'"


def test_all_field_errors_of_a_row_are_reported_together() -> None:
    errors = errors_of(
        CommuneRecord, {"insee_code": "2300", "name": "", "population": "x", "latitude": "46.2", "longitude": "y"}
    )
    assert {e.field for e in errors} == {"insee_code", "name", "population", "longitude"}


def test_swapped_coordinates_are_pointed_out() -> None:
    (error,) = errors_of(
        CommuneRecord, {"insee_code": "23501", **{**AHUN_LIKE, "latitude": 1.872, "longitude": 46.241}}
    )
    assert error.field == "latitude"
    assert "inversées" in error.reason_fr and "swapped" in error.reason


def test_coordinates_must_lie_in_the_zone_of_the_departement() -> None:
    (error,) = errors_of(CommuneRecord, {"insee_code": "97411", **AHUN_LIKE})
    assert "974" in error.reason_fr
    (far,) = errors_of(CommuneRecord, {"insee_code": "23501", **{**AHUN_LIKE, "latitude": 52.5, "longitude": 13.4}})
    assert "hors de France" in far.reason_fr


@pytest.mark.parametrize("fragility", [-0.1, 1.5, "beaucoup"])
def test_fragility_is_an_index_between_0_and_1(fragility: Any) -> None:
    (error,) = errors_of(CommuneRecord, {"insee_code": "23501", **AHUN_LIKE, "fragility": fragility})
    assert error.field == "fragility"


def test_records_are_equal_whatever_their_origin() -> None:
    a = commune().located(Origin(file="a.csv", line=2))
    b = commune().located(Origin(file="b.json", line=9, item=8))
    assert a == b
    assert a != commune(population=1)


# --------------------------------------------------------------------------- opening hours


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("09:00-12:00 14:00-17:00", [("09:00", "12:00"), ("14:00", "17:00")]),
        ("9h-12h, 14h30-17h", [("09:00", "12:00"), ("14:30", "17:00")]),
        ("14h-18h et 8h-12h", [("08:00", "12:00"), ("14:00", "18:00")]),
        ("8h à 12h", [("08:00", "12:00")]),
        ("18:00-24:00", [("18:00", "24:00")]),
        ("fermé", []),
        ("", []),
    ],
)
def test_opening_hours_are_read_in_the_usual_french_ways(text: str, spans: list[tuple[str, str]]) -> None:
    assert parse_spans(text) == spans


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("matin", "illisibles"),
        ("9h-12h le matin", "illisibles"),
        ("12:00-09:00", "finit avant de commencer"),
        ("09:00-25:00", "n'est pas une plage horaire valide"),
        ("09:00-12:00 11:00-14:00", "se chevauchent"),
    ],
)
def test_bad_opening_hours_name_the_weekday_and_the_problem(text: str, reason: str) -> None:
    errors = errors_of(SiteRecord, {"commune_insee": "23501", "name": "Mairie", "opening_hours": {"mardi": text}})
    assert [e.field for e in errors] == ["opening_hours"]
    assert reason in errors[0].reason_fr


def test_site_hours_are_stored_by_weekday_index_and_closed_days_dropped() -> None:
    site = SiteRecord(
        commune_insee="23501",
        name="Mairie",
        site_kind="Salle des Fêtes",
        opening_hours={"lundi": "9h-12h", 3: "14:00-17:00, 09:00-11:30", "ven": "fermé"},
        market_day="Samedi",
    )
    assert site.site_kind == "salle_des_fetes"
    assert site.market_day == 5
    assert site.opening_hours_json() == {"0": [["09:00", "12:00"]], "3": [["09:00", "11:30"], ["14:00", "17:00"]]}


def test_site_hours_also_read_as_one_line_per_week() -> None:
    site = SiteRecord(commune_insee="23501", name="Médiathèque", opening_hours="mar 14h-18h; sam 10:00-12:00")
    assert site.opening_hours == {1: [("14:00", "18:00")], 5: [("10:00", "12:00")]}


def test_a_site_closed_all_week_is_refused() -> None:
    (error,) = errors_of(SiteRecord, {"commune_insee": "23501", "name": "Mairie", "opening_hours": {"lundi": "fermé"}})
    assert "aucun horaire" in error.reason_fr


@pytest.mark.parametrize("day", ["marchedi", "8", "le mardi"])
def test_market_day_must_be_a_french_weekday(day: str) -> None:
    errors = errors_of(
        SiteRecord, {"commune_insee": "23501", "name": "Place", "opening_hours": "lun 9h-12h", "market_day": day}
    )
    assert [e.field for e in errors] == ["market_day"]
    assert "jour de la semaine" in errors[0].reason_fr


def test_site_position_needs_both_coordinates() -> None:
    (error,) = errors_of(
        SiteRecord, {"commune_insee": "23501", "name": "Mairie", "opening_hours": "lun 9h-12h", "latitude": 46.2}
    )
    assert error.field == "longitude"


# --------------------------------------------------------------------------- counsellors, vehicles, services


def test_counsellor_skills_accept_names_aliases_and_multiword_operators() -> None:
    counsellor = CounsellorRecord(
        name="Agnès Tixier",
        home_commune_insee="23507",
        skills="MSA France Travail énergie, numérique CPAM",
        days_off="Mercredi vendredi",
        travel_mode="Voiture",
    )
    assert counsellor.skills == ["ameli", "france_travail", "msa", "energie", "numerique_base"]
    assert counsellor.days_off == [2, 4]
    assert counsellor.travel_mode == "car"


def test_unknown_skill_lists_the_known_ones() -> None:
    errors = errors_of(CounsellorRecord, {"name": "C", "home_commune_insee": "23501", "skills": "caf plomberie"})
    assert [e.field for e in errors] == ["skills"]
    assert "« plomberie »" in errors[0].reason_fr and "france_travail" in errors[0].reason_fr


def test_a_counsellor_needs_a_skill_and_a_working_weekday() -> None:
    errors = errors_of(
        CounsellorRecord, {"name": "C", "home_commune_insee": "23501", "skills": "", "days_off": "lun mar mer jeu ven"}
    )
    assert {e.field for e in errors} == {"skills"}
    (days,) = errors_of(
        CounsellorRecord,
        {"name": "C", "home_commune_insee": "23501", "skills": "caf", "days_off": "lun mar mer jeu ven"},
    )
    assert days.field == "days_off"


def test_phones_are_normalised_and_never_echoed_in_errors() -> None:
    record = CounsellorRecord(name="C", home_commune_insee="23501", skills="caf", phone="01 99 00 12 34")
    assert record.phone == "+33199001234"
    (error,) = errors_of(
        CounsellorRecord, {"name": "C", "home_commune_insee": "23501", "skills": "caf", "phone": "07 77 7"}
    )
    assert error.field == "phone"
    assert "77 7" not in error.reason and "77 7" not in error.reason_fr


def test_vehicle_shift_times_read_as_clock_times_and_must_be_ordered() -> None:
    bus = VehicleRecord(name="Bus", depot_commune_insee="23501", shift_start_minute="8h", shift_end_minute="17:30")
    assert (bus.shift_start_minute, bus.shift_end_minute, bus.vehicle_kind) == (480, 1050, "bus")
    (error,) = errors_of(VehicleRecord, {"name": "Bus", "depot_commune_insee": "23501", "shift_start_minute": "18:00"})
    assert error.field == "shift_end_minute"
    (desks,) = errors_of(VehicleRecord, {"name": "Bus", "depot_commune_insee": "23501", "desks": "0"})
    assert desks.field == "desks" and desks.reason_fr == "doit être supérieur ou égal à 1"


def test_short_labels_must_fit_the_gsm7_sms_alphabet() -> None:
    values = {"code": "impots", "label": "Impôts", "short_label": "Impôts", "duration_minutes": 30}
    (error,) = errors_of(ServiceRecord, values)
    assert error.field == "short_label" and "ô" in error.reason_fr
    assert ServiceRecord.model_validate({**values, "short_label": "Chèque énergie à voir"}).short_label


def test_group_services_have_a_capacity_and_individual_ones_do_not() -> None:
    base = {"code": "atelier", "label": "Atelier", "short_label": "Atelier", "duration_minutes": 90}
    (alone,) = errors_of(ServiceRecord, {**base, "is_group": "oui", "group_capacity": 1})
    (crowd,) = errors_of(ServiceRecord, {**base, "is_group": "non", "group_capacity": 6})
    assert alone.field == crowd.field == "group_capacity"
    assert ServiceRecord.model_validate(
        {**base, "is_group": "oui", "group_capacity": "8", "documents": "a | b"}
    ).documents == ["a", "b"]


# --------------------------------------------------------------------------- cross-record checks


def test_bundle_finds_duplicates_and_dangling_references() -> None:
    first = commune().located(Origin(file="a.csv", line=2, columns={"insee_code": "code_insee"}))
    again = commune(name="Autre").located(Origin(file="b.csv", line=5, columns={"insee_code": "code_insee"}))
    site = SiteRecord(commune_insee="23999", name="Mairie", opening_hours="lun 9h-12h").located(
        Origin(file="sites.csv", line=3)
    )
    counsellor = CounsellorRecord(name="C", home_commune_insee="23501", skills="caf", vehicle="Bus X").located(
        Origin(file="c.csv", line=2)
    )
    problems = TerritoryData(communes=[first, again], sites=[site], counsellors=[counsellor]).problems()
    rendered = [e.french() for e in problems]
    assert rendered == [
        "b.csv, ligne 5, champ « code_insee » : code INSEE « 23501 » en double, déjà vu (a.csv:2)",
        "sites.csv, ligne 3, champ « commune_insee » : "
        "commune 23999 inconnue : importez-la avant, ou dans le même import",
        "c.csv, ligne 2, champ « vehicle » : véhicule « Bus X » inconnu",
    ]


def test_bundle_accepts_references_known_to_the_database_and_checks_site_distance() -> None:
    far_site = SiteRecord(
        commune_insee="23501", name="Mairie", opening_hours="lun 9h-12h", latitude=45.2, longitude=1.87
    )
    car_rider = CounsellorRecord(name="C", home_commune_insee="23501", skills="caf", travel_mode="bus", vehicle="Clio")
    problems = TerritoryData(sites=[far_site], counsellors=[car_rider]).problems(
        known_communes={"23501": (46.241, 1.872)}, known_vehicles={"Clio": "car"}
    )
    assert [e.field for e in problems] == ["latitude", "vehicle"]
    assert "116 km" in problems[0].reason_fr
    assert "voiture" in problems[1].reason_fr


def test_main_departement_is_the_most_frequent_one() -> None:
    data = TerritoryData(
        communes=[commune(), commune(insee_code="23502"), commune(insee_code="87001", latitude=45.8, longitude=1.2)]
    )
    assert data.main_departement() == "23"
    assert data.departements() == ["23", "87"]


# --------------------------------------------------------------------------- the error


def test_import_error_renders_every_row_in_french_and_english() -> None:
    errors = [
        RowError(
            file="communes.csv",
            line=7,
            field="population",
            reason="must be a non-negative integer",
            reason_fr="doit être un entier positif",
        ),
        RowError(file="c.json", line=3, item=2, field="centre", reason="missing centre", reason_fr="centre manquant"),
    ]
    exc = TerritoryImportError(errors)
    assert exc.french().splitlines() == [
        "Import refusé, rien n'a été enregistré : 2 erreurs",
        "- communes.csv, ligne 7, champ « population » : doit être un entier positif",
        "- c.json, ligne 3, élément 2, champ « centre » : centre manquant",
    ]
    assert str(exc).splitlines()[1] == "- communes.csv, line 7, field 'population': must be a non-negative integer"


def test_import_error_keeps_at_most_max_errors_and_says_there_were_more() -> None:
    many = [RowError(file="f.csv", line=n, field="x", reason="bad", reason_fr="mauvais") for n in range(MAX_ERRORS + 5)]
    exc = TerritoryImportError.collect(many)
    assert exc is not None and len(exc.errors) == MAX_ERRORS and exc.truncated
    assert f"{MAX_ERRORS}+ erreurs" in exc.french()
    assert "non affichée" in exc.french()
    assert TerritoryImportError.collect([]) is None
