"""Reading territory files: format recognised from content, every error located."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_services.territory.errors import MAX_ERRORS, TerritoryImportError
from mobile_services.territory.formats import (
    GEO_JSON,
    detect_kind,
    geo_json_text,
    load_files,
    parse_text,
    read_file,
    write_csv_files,
)
from mobile_services.territory.records import (
    CommuneRecord,
    CounsellorRecord,
    ServiceRecord,
    SiteRecord,
    TerritoryData,
    VehicleRecord,
)

WriteFile = Callable[..., Path]

COMMUNES_HEADER = "code_insee;nom;codes_postaux;population;latitude;longitude;fragilite"


def refused(path: Path | list[Path]) -> TerritoryImportError:
    with pytest.raises(TerritoryImportError) as caught:
        if isinstance(path, list):
            load_files(path)
        else:
            read_file(path)
    return caught.value


def located(exc: TerritoryImportError) -> list[tuple[str, int | None, str | None]]:
    return [(e.file, e.line, e.field) for e in exc.errors]


# --------------------------------------------------------------------------- each format


@pytest.mark.parametrize(
    ("name", "kind", "count"),
    [
        ("val-de-sedelle.json", GEO_JSON, 8),
        ("communes.csv", "communes", 8),
        ("communes-comma.csv", "communes", 3),
        ("sites.csv", "sites", 10),
        ("vehicules.csv", "vehicles", 2),
        ("conseillers.csv", "counsellors", 3),
        ("services.csv", "services", 2),
    ],
)
def test_each_fixture_is_recognised_from_its_content(
    data_dir: Path, write_file: WriteFile, name: str, kind: str, count: int
) -> None:
    renamed = write_file("export.txt", (data_dir / name).read_bytes())  # the name tells nothing
    parsed = read_file(renamed)
    assert (parsed.kind, len(parsed.records)) == (kind, count)


def test_geo_json_communes_keep_their_real_line_numbers(data_dir: Path) -> None:
    parsed = read_file(data_dir / "val-de-sedelle.json")
    first, last = parsed.records[0], parsed.records[-1]
    assert isinstance(first, CommuneRecord)
    assert (first.insee_code, first.name, first.population) == ("23501", "Bourg-de-Sédelle", 2412)
    assert (first.latitude, first.longitude) == (46.241, 1.872)  # centre is [lon, lat]
    assert first.fragility is None
    assert (first.origin.line, first.origin.item) == (2, 1)
    assert (last.origin.line, last.origin.item) == (9, 8)
    assert parsed.records[4].postcodes == ["23350", "23351"]


def test_french_excel_csv_with_bom_semicolons_and_decimal_commas(data_dir: Path) -> None:
    parsed = read_file(data_dir / "communes.csv")
    by_code = {c.insee_code: c for c in parsed.records}
    assert by_code["23501"].population == 2412  # written "2 412"
    assert by_code["23501"].fragility == 0.28
    assert by_code["23502"].latitude == 46.2655


def test_comma_csv_with_capitalised_accented_headers_and_quoted_lists(data_dir: Path) -> None:
    parsed = read_file(data_dir / "communes-comma.csv")
    first, second, _ = parsed.records
    assert first.postcodes == ["23320", "23321"]
    assert second.fragility is None  # empty cell: not given
    assert first.origin.columns["fragility"] == "Fragilité"  # errors will name the header as written


def test_sites_read_weekday_columns_market_day_and_flags(data_dir: Path) -> None:
    sites = read_file(data_dir / "sites.csv").records
    market = next(s for s in sites if s.name == "Place du marché")
    library = next(s for s in sites if s.name == "Médiathèque")
    small = sites[3]
    assert isinstance(market, SiteRecord)
    assert (market.site_kind, market.market_day, market.opening_hours[5]) == (
        "place_du_marche",
        5,
        [("07:00", "13:00")],
    )
    assert library.opening_hours[2] == [("10:00", "12:00"), ("14:00", "18:00")] and not library.bus_parking
    assert (small.latitude, small.longitude, small.accessible) == (None, None, False)  # at the commune centre


def test_vehicles_and_counsellors_fixtures(data_dir: Path) -> None:
    bus, car = read_file(data_dir / "vehicules.csv").records
    assert isinstance(bus, VehicleRecord)
    assert (bus.vehicle_kind, bus.desks, bus.shift_start_minute, bus.cost_per_km) == ("bus", 2, 510, 0.62)
    assert car.vehicle_kind == "car" and car.depot_latitude is None
    claire, _, agnes = read_file(data_dir / "conseillers.csv").records
    assert isinstance(claire, CounsellorRecord)
    assert (claire.phone, claire.skills, claire.days_off, claire.vehicle) == (
        "+33199001234",
        ["caf", "ameli", "numerique_base"],
        [2],
        "Bus Sédelle",
    )
    assert agnes.travel_mode == "car"
    assert [d.isoformat() for d in claire.leave_days] == ["2027-03-01", "2027-03-02", "2027-03-03", "2027-03-24"]
    assert agnes.leave_days == []


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_any_usual_delimiter_is_recognised(write_file: WriteFile, delimiter: str) -> None:
    rows = [COMMUNES_HEADER.split(";"), ["23501", "Chambonnet", "23300", "187", "46.2655", "1.8301", ""]]
    path = write_file("c.csv", "\n".join(delimiter.join(row) for row in rows) + "\n")
    (record,) = read_file(path).records
    assert record.name == "Chambonnet"


def test_windows_1252_files_are_read(write_file: WriteFile) -> None:
    text = f"{COMMUNES_HEADER}\n23503;Fontanières-sur-Sédelle;23300;356;46,2198;1,9105;0,55\n"
    (record,) = read_file(write_file("c.csv", text, encoding="cp1252")).records
    assert record.name == "Fontanières-sur-Sédelle"


def test_utf16_unicode_text_exports_are_read(write_file: WriteFile) -> None:
    text = f"{COMMUNES_HEADER}\n23503;Fontanières;23300;356;46,2198;1,9105;\n".replace(";", "\t")
    (record,) = read_file(write_file("c.txt", text, encoding="utf-16")).records
    assert record.name == "Fontanières"


def test_undecodable_bytes_give_a_clear_encoding_error(write_file: WriteFile) -> None:
    data = f"{COMMUNES_HEADER}\n".encode() + b"23503;Font\x81\x8d;23300;356;46,2;1,9;\n"
    exc = refused(write_file("c.csv", data))
    assert located(exc) == [("c.csv", 2, None)]
    assert "encodage" in exc.errors[0].reason_fr and "UTF-8" in exc.errors[0].reason_fr


def test_a_spreadsheet_file_is_named_as_such(write_file: WriteFile) -> None:
    exc = refused(write_file("communes.xlsx", b"PK\x03\x04rest-of-a-zip"))
    assert "classeur" in exc.errors[0].reason_fr


@pytest.mark.parametrize("content", ["", "   \n\n  "])
def test_empty_files_are_refused(write_file: WriteFile, content: str) -> None:
    exc = refused(write_file("vide.csv", content))
    assert exc.errors[0].reason_fr == "fichier vide"


def test_header_only_file_has_no_data(write_file: WriteFile) -> None:
    exc = refused(write_file("c.csv", COMMUNES_HEADER + "\n"))
    assert "aucune ligne de données" in exc.errors[0].reason_fr


# --------------------------------------------------------------------------- headers


def test_a_missing_column_is_named(data_dir: Path) -> None:
    exc = refused(data_dir / "broken" / "sites-missing-column.csv")
    assert located(exc) == [("sites-missing-column.csv", 1, "type")]
    assert "lieux" in exc.errors[0].reason_fr


def test_every_missing_column_is_named(write_file: WriteFile) -> None:
    exc = refused(write_file("c.csv", "code_insee;nom;latitude;longitude;codes_postaux\n23501;X;46.2;1.8;23300\n"))
    assert [e.field for e in exc.errors] == ["population"]


def test_an_unknown_header_lists_what_is_expected(data_dir: Path) -> None:
    exc = refused(data_dir / "broken" / "unknown.csv")
    assert "format de fichier non reconnu" in exc.errors[0].reason_fr
    assert "code_insee" in exc.errors[0].reason_fr


def test_a_duplicated_column_is_refused(write_file: WriteFile) -> None:
    exc = refused(
        write_file("c.csv", "code_insee;nom;population;Population;latitude;longitude\n23501;X;1;2;46.2;1.8\n")
    )
    assert located(exc) == [("c.csv", 1, "Population")]


def test_unknown_extra_columns_are_ignored_with_a_warning(write_file: WriteFile) -> None:
    parsed = read_file(write_file("c.csv", f"{COMMUNES_HEADER};remarques\n23501;X;23300;1;46.2;1.8;;à revoir\n"))
    assert len(parsed.records) == 1
    assert [w.reason_fr for w in parsed.warnings] == ["colonne « remarques » ignorée (inconnue)"]


# --------------------------------------------------------------------------- row errors


def test_every_bad_row_of_a_file_is_reported_with_line_and_field(data_dir: Path) -> None:
    exc = refused(data_dir / "broken" / "communes-errors.csv")
    assert located(exc) == [
        ("communes-errors.csv", 3, "code_insee"),
        ("communes-errors.csv", 4, "population"),
        ("communes-errors.csv", 5, "latitude"),
        ("communes-errors.csv", 6, "population"),
        ("communes-errors.csv", 6, "latitude"),
    ]
    assert (
        "communes-errors.csv, ligne 4, champ « population » : doit être un entier positif (lu : « -12 »)"
        in exc.french()
    )


def test_errors_name_the_header_as_the_user_wrote_it(write_file: WriteFile) -> None:
    exc = refused(write_file("c.csv", "Code INSEE;Nom;Population;Latitude;Longitude\n23501;X;-5;46.2;1.8\n"))
    assert located(exc) == [("c.csv", 2, "Population")]


def test_site_hour_errors_name_the_weekday_column(data_dir: Path, write_file: WriteFile) -> None:
    lines = (data_dir / "sites.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = (
        lines[4]
        .replace(";09:00-12:00;;14:00-17:00;", ";9h-12h le matin;;14:00-17:00;")
        .replace(";;;;;non", ";;;;marchedi;non")
    )
    exc = refused(write_file("sites.csv", "\n".join(lines)))
    assert located(exc) == [("sites.csv", 5, "mardi"), ("sites.csv", 5, "jour_marche")]


def test_counsellor_errors(data_dir: Path) -> None:
    exc = refused(data_dir / "broken" / "conseillers-errors.csv")
    assert located(exc) == [
        ("conseillers-errors.csv", 2, "competences"),
        ("conseillers-errors.csv", 3, "jours_repos"),
        ("conseillers-errors.csv", 4, "deplacement"),
        ("conseillers-errors.csv", 5, "absences"),
    ]
    assert "la période « 2027-03-05..2027-03-01 » finit avant de commencer" in str(exc.french())


def test_line_numbers_count_blank_lines_and_multiline_cells(write_file: WriteFile) -> None:
    text = (
        "code_insee;nom;type;adresse;lundi\n"
        '23501;Mairie;mairie;"1 place\nde la Mairie";9h-12h\n'
        "\n"
        ";;;;\n"
        "23502;Mairie;mairie;Le Bourg;midi\n"
    )
    exc = refused(write_file("sites.csv", text))
    assert located(exc) == [("sites.csv", 6, "lundi")]


def test_too_many_values_in_a_row_suggest_quoting(write_file: WriteFile) -> None:
    text = "code_insee,nom,population,latitude,longitude\n23501,Bourg, le haut,12,46.2,1.8\n"
    exc = refused(write_file("c.csv", text))
    assert located(exc) == [("c.csv", 2, None)]
    assert "guillemets" in exc.errors[0].reason_fr


def test_row_errors_are_collected_up_to_the_limit(write_file: WriteFile) -> None:
    rows = "".join(f"23{n:03d};C{n};23300;-{n};46.2;1.8;\n" for n in range(1, 200))
    exc = refused(write_file("c.csv", f"{COMMUNES_HEADER}\n{rows}"))
    assert len(exc.errors) == MAX_ERRORS and exc.truncated
    assert exc.errors[-1].line == MAX_ERRORS + 1


def test_errors_of_several_files_are_reported_together(data_dir: Path) -> None:
    exc = refused(
        [
            data_dir / "broken" / "communes-errors.csv",
            data_dir / "sites.csv",
            data_dir / "broken" / "conseillers-errors.csv",
        ]
    )
    assert {e.file for e in exc.errors} == {"communes-errors.csv", "conseillers-errors.csv"}
    assert len(exc.errors) == 9


# --------------------------------------------------------------------------- JSON errors


def test_truncated_json_names_the_line(data_dir: Path) -> None:
    exc = refused(data_dir / "broken" / "communes-truncated.json")
    assert located(exc) == [("communes-truncated.json", 4, None)]
    assert "JSON invalide" in exc.errors[0].reason_fr


def test_bad_json_values_name_line_element_and_key(data_dir: Path) -> None:
    exc = refused(data_dir / "broken" / "communes-bad-values.json")
    assert [(e.line, e.item, e.field) for e in exc.errors] == [(3, 2, "centre"), (4, 3, "population"), (5, 4, "code")]
    assert exc.errors[1].french() == (
        "communes-bad-values.json, ligne 4, élément 3, champ « population » : "
        "doit être un entier positif (lu : « -356 »)"
    )


def test_one_line_json_answers_are_located_by_element(write_file: WriteFile) -> None:
    def element(code: str, coordinates: list[float]) -> dict[str, object]:
        centre = {"type": "Point", "coordinates": coordinates}
        return {"nom": code, "code": code, "codesPostaux": ["23300"], "population": 1, "centre": centre}

    answer = [element("23501", [1.8, 46.2]), element("23503", [1.8, 46.2]), element("23502", [46.2])]
    exc = refused(write_file("answer.json", json.dumps(answer)))  # all on line 1
    assert [(e.line, e.item, e.field) for e in exc.errors] == [(1, 3, "centre")]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"type":"FeatureCollection","features":[]}', "pas une liste de communes"),
        ("[1, 2]", "n'est pas un objet"),
        ("[]", "aucune commune"),
        (
            '[{"nom":"A","code":"23501","population":1,"centre":{"type":"Point","coordinates":[1.8,46.2]}}] x',
            "JSON invalide",
        ),
    ],
)
def test_json_that_is_not_a_commune_list_is_refused(write_file: WriteFile, content: str, reason: str) -> None:
    exc = refused(write_file("x.json", content))
    assert reason in exc.errors[0].reason_fr


def test_missing_population_in_json_is_a_warning_not_an_error(write_file: WriteFile) -> None:
    centre = {"type": "Point", "coordinates": [5.47, 49.22]}
    text = (
        "[\n" + json.dumps({"nom": "Villemorte", "code": "55501", "codesPostaux": ["55100"], "centre": centre}) + "\n]"
    )
    parsed = read_file(write_file("55.json", text))
    assert parsed.records[0].population == 0
    assert [(w.line, w.field, w.reason_fr) for w in parsed.warnings] == [
        (2, "population", "population absente : 0 retenu")
    ]


# --------------------------------------------------------------------------- writing


def test_fixture_set_round_trips_through_the_documented_csv_files(sedelle_files: list[Path], tmp_path: Path) -> None:
    data, _ = load_files(sedelle_files)
    written = write_csv_files(data, tmp_path / "out")
    assert [p.name for p in written] == [
        "communes.csv",
        "sites.csv",
        "vehicules.csv",
        "conseillers.csv",
        "services.csv",
    ]
    again, parsed = load_files(written)
    assert [p.kind for p in parsed] == ["communes", "sites", "vehicles", "counsellors", "services"]
    assert again == data


def test_geo_json_writer_round_trips(data_dir: Path) -> None:
    communes = read_file(data_dir / "val-de-sedelle.json").records
    text = geo_json_text(communes)  # type: ignore[arg-type]
    assert text == (data_dir / "val-de-sedelle.json").read_text(encoding="utf-8")
    assert parse_text(text, "again.json").records == communes


def test_detect_kind_needs_no_file() -> None:
    assert detect_kind("nom;type;commune_depot\nBus;bus;23501\n") == "vehicles"
    assert detect_kind("  [\n{}]") == GEO_JSON


# --------------------------------------------------------------------------- round trips of awkward values

_TEXT = st.text(alphabet="aàbcçeéèêiîoôuùœSL'’-; ,\"|«»\t\n", min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@settings(max_examples=60, deadline=None)
@given(
    name=_TEXT,
    population=st.integers(min_value=0, max_value=3_000_000),
    latitude=st.floats(min_value=41.4, max_value=51.0),
    longitude=st.floats(min_value=-5.0, max_value=9.5),
    fragility=st.none() | st.floats(min_value=0, max_value=1),
    documents=st.lists(_TEXT.filter(lambda s: "|" not in s), max_size=3),
)
def test_any_valid_values_survive_the_csv_files(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    population: int,
    latitude: float,
    longitude: float,
    fragility: float | None,
    documents: list[str],
) -> None:
    commune = CommuneRecord(
        insee_code="23501",
        name=name,
        population=population,
        latitude=latitude,
        longitude=longitude,
        fragility=fragility,
    )
    service = ServiceRecord(code="local", label=name, short_label="Local", duration_minutes=30, documents=documents)
    data = TerritoryData(communes=[commune], services=[service])
    again, _ = load_files(write_csv_files(data, tmp_path_factory.mktemp("csv")))
    assert again == data
