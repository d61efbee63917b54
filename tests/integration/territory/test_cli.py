"""`mobile-services territory ...` end to end: real files, a real database, French output."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from mobile_services.cli.territory import app
from mobile_services.storage.db import make_engine, upgrade
from mobile_services.storage.tables import Commune, Counsellor, Organisation, Service, Site, Territory, Vehicle


@pytest.fixture
def cli(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose commands open a fresh, migrated database on the current backend."""
    upgrade(empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOBILE_SERVICES_CONFIG_FILE", str(tmp_path / "absent.toml"))
    return CliRunner()


def run(cli: CliRunner, *args: str) -> tuple[Result, str]:
    result = cli.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result, " ".join(result.output.replace("│", " ").split())  # table cells as words, lines unwrapped


def rows(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return {
                table.__tablename__: session.exec(select(func.count()).select_from(table)).one()  # type: ignore[attr-defined]
                for table in (Organisation, Territory, Commune, Site, Vehicle, Counsellor, Service)
            }
    finally:
        engine.dispose()


def test_import_recognises_each_file_and_prints_what_it_created(
    cli: CliRunner, empty_database_url: str, sedelle_files: list[Path]
) -> None:
    result, output = run(cli, "import", *map(str, sedelle_files))
    assert result.exit_code == 0, output
    for line in (
        "val-de-sedelle.json : communes (geo.api.gouv.fr), 8 ligne(s)",
        "sites.csv : lieux, 10 ligne(s)",
        "vehicules.csv : véhicules, 2 ligne(s)",
        "conseillers.csv : conseillers, 3 ligne(s)",
        "services.csv : services, 2 ligne(s)",
        "Import terminé : territoire « Creuse (23) » (créé), organisation « Mon organisation »",
    ):
        assert line in output
    assert rows(empty_database_url) == {
        "organisation": 1,
        "territory": 1,
        "commune": 8,
        "site": 11,  # 10 in sites.csv, and the default site of 23506, which has none
        "vehicle": 2,
        "counsellor": 3,
        "service": 2,
    }
    result, output = run(cli, "show")
    assert result.exit_code == 0
    assert "Organisation « Mon organisation »" in output
    assert "Creuse (23) 8 5 699 11 1 1 3" in output  # communes, habitants, lieux, bus, voitures, conseillers
    assert "« Creuse (23) » : 1 commune sur le lieu par défaut (Mairie, centre de la commune)" in output
    assert "Services au catalogue : 2" in output


def test_communes_alone_plan_on_default_sites_until_a_sites_file_replaces_them(
    cli: CliRunner, empty_database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_DEFAULT_SITE_HOURS", "lun-jeu 09:00-12:00 13:30-17:00")
    result, output = run(cli, "import", str(data_dir / "val-de-sedelle.json"))
    assert result.exit_code == 0, output
    assert "Lieu par défaut (Mairie, centre de la commune) : 8 commune(s), 8 créé(s)." in output
    result, output = run(cli, "show")
    assert "Creuse (23) 8 5 699 8 0 0 0" in output
    assert "« Creuse (23) » : 8 communes sur le lieu par défaut (Mairie, centre de la commune)" in output
    with Session(make_engine(empty_database_url)) as session:
        hours = {tuple(sorted(s.opening_hours)) for s in session.exec(select(Site))}
    assert hours == {("0", "1", "2", "3")}  # the setting, not the packaged default

    result, output = run(cli, "import", str(data_dir / "sites.csv"))
    assert result.exit_code == 0, output
    assert "8 commune(s)" not in output and "1 commune(s), 7 remplacé(s) par les lieux importés." in output
    result, output = run(cli, "show")
    assert "Creuse (23) 8 5 699 11 0 0 0" in output
    assert "« Creuse (23) » : 1 commune sur le lieu par défaut" in output


def test_an_unreadable_default_site_hours_setting_stops_the_import(
    cli: CliRunner, empty_database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_DEFAULT_SITE_HOURS", "lundi matin")
    result, output = run(cli, "import", str(data_dir / "val-de-sedelle.json"))
    assert result.exit_code == 2
    assert "MOBILE_SERVICES_DEFAULT_SITE_HOURS" in output
    assert rows(empty_database_url)["commune"] == 0


def test_a_territory_gets_its_sms_number_and_two_cannot_share_one(
    cli: CliRunner, empty_database_url: str, data_dir: Path
) -> None:
    run(cli, "import", str(data_dir / "communes.csv"), "--territory", "Val de Sédelle", "-o", "CC")
    run(cli, "import", str(data_dir / "communes-comma.csv"), "-t", "Landes", "-o", "CC")
    result, output = run(cli, "number", "09 39 00 00 01")
    assert result.exit_code == 1 and "Plusieurs territoires (Landes, Val de Sédelle) : précisez --territory." in output
    result, output = run(cli, "number", "09 39 00 00 01", "-t", "Val de Sédelle")
    assert result.exit_code == 0 and "Territoire « Val de Sédelle » : numéro SMS +33939000001." in output
    result, output = run(cli, "number", "+33939000001", "-t", "Landes")
    assert result.exit_code == 1
    assert "Le numéro +33939000001 est déjà celui du territoire « Val de Sédelle »." in output
    result, output = run(cli, "number", "pas un numéro", "-t", "Landes")
    assert result.exit_code == 1 and "Numéro SMS invalide : « pas un numéro »." in output
    result, output = run(cli, "number", "07", "56", "00", "00", "01", "-t", "Landes")  # unquoted, as the README types it
    assert result.exit_code == 0 and "Territoire « Landes » : numéro SMS +33756000001." in output
    result, output = run(cli, "number", "38012", "-t", "Landes")  # a short code
    assert result.exit_code == 0 and "numéro SMS 38012." in output
    result, output = run(cli, "show")
    assert "Numéro SMS de « Val de Sédelle » : +33939000001" in output and "Numéro SMS de « Landes » : 38012" in output
    result, output = run(cli, "number", "aucun", "-t", "Val de Sédelle")
    assert result.exit_code == 0 and "plus de numéro SMS" in output
    with Session(make_engine(empty_database_url)) as session:
        numbers = {r.name: r.sms_number for r in session.exec(select(Territory))}
    assert numbers == {"Val de Sédelle": None, "Landes": "38012"}


def test_a_bad_file_is_refused_in_french_and_nothing_is_written(
    cli: CliRunner, empty_database_url: str, data_dir: Path
) -> None:
    result, output = run(
        cli, "import", str(data_dir / "val-de-sedelle.json"), str(data_dir / "broken" / "communes-errors.csv")
    )
    assert result.exit_code == 1
    assert "Import refusé, rien n'a été enregistré : 5 erreurs" in output
    assert "communes-errors.csv, ligne 4, champ « population » : doit être un entier positif (lu : « -12 »)" in output
    assert "Traceback" not in output
    with Session(make_engine(empty_database_url)) as session:
        assert session.exec(select(func.count()).select_from(Commune)).one() == 0


def test_territory_and_organisation_options(cli: CliRunner, empty_database_url: str, data_dir: Path) -> None:
    result, output = run(
        cli, "import", str(data_dir / "communes.csv"), "--territory", "Val de Sédelle", "-o", "CC Sédelle"
    )
    assert result.exit_code == 0, output
    assert "territoire « Val de Sédelle » (créé), organisation « CC Sédelle »" in output
    run(cli, "import", str(data_dir / "communes-comma.csv"), "-t", "Landes", "-o", "Autre")
    result, output = run(cli, "import", str(data_dir / "sites.csv"))
    assert result.exit_code == 1
    assert "Plusieurs organisations existent (Autre, CC Sédelle) : précisez --organisation NOM." in output
    result, output = run(cli, "show", "--territory", "Nulle part")
    assert result.exit_code == 1 and "Aucun territoire « Nulle part »." in output


def test_fetch_imports_a_departement_and_saves_the_answer(
    cli: CliRunner, empty_database_url: str, httpserver: HTTPServer, data_dir: Path, tmp_path: Path
) -> None:
    answer = (data_dir / "val-de-sedelle.json").read_bytes()
    httpserver.expect_request("/departements/23/communes").respond_with_data(answer, content_type="application/json")
    saved = tmp_path / "communes-23.json"
    result, output = run(
        cli, "fetch", "--departement", "23", "--base-url", httpserver.url_for("/"), "--save", str(saved)
    )
    assert result.exit_code == 0, output
    assert "8 communes téléchargées (Creuse)." in output
    assert saved.read_bytes() == answer
    assert rows(empty_database_url)["commune"] == 8
    assert rows(empty_database_url)["site"] == 8  # one default site each
    assert "Lieu par défaut (Mairie, centre de la commune) : 8 commune(s), 8 créé(s)." in output
    result, output = run(cli, "import", str(saved))
    assert result.exit_code == 0 and "communes 0 0 8" in output  # created, updated, unchanged


def test_fetch_offline_says_so_and_writes_nothing(cli: CliRunner, empty_database_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result, output = run(cli, "fetch", "-d", "23", "--base-url", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert (
        "Impossible de joindre 127.0.0.1 : vérifiez la connexion, "
        "ou importez un fichier téléchargé avec `territory import`." in output
    )
    assert rows(empty_database_url)["territory"] == 0


def test_generated_csv_files_reimport_to_the_same_territory(
    cli: CliRunner, empty_database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "synthese"
    result, output = run(
        cli, "generate", "--communes", "40", "--seed", "3", "--buses", "1", "--counsellors", "3", "--out", str(out)
    )
    assert result.exit_code == 0, output
    assert sorted(p.name for p in out.iterdir()) == [
        "communes.csv",
        "conseillers.csv",
        "services.csv",
        "sites.csv",
        "vehicules.csv",
    ]
    assert rows(empty_database_url)["commune"] == 0  # --out writes files only
    result, output = run(cli, "import", *sorted(map(str, out.iterdir())), "--territory", "Synthèse")
    assert result.exit_code == 0, output
    counts = rows(empty_database_url)
    assert (counts["commune"], counts["counsellor"], counts["service"]) == (40, 3, 14)
    assert counts["vehicle"] == 1 + 1  # one bus, and the car of the one counsellor who drives


def test_generate_into_the_database_is_repeatable(cli: CliRunner, empty_database_url: str) -> None:
    result, output = run(cli, "generate", "-n", "25", "-s", "9", "--name", "Démo")
    assert result.exit_code == 0, output
    assert "territoire « Démo » (créé)" in output
    first = rows(empty_database_url)
    result, output = run(cli, "generate", "-n", "25", "-s", "9", "--name", "Démo")
    assert result.exit_code == 0 and "(créé)" not in output
    assert rows(empty_database_url) == first
    result, output = run(cli, "generate", "-n", "25", "--departement", "974")
    assert result.exit_code == 1 and "Paramètres invalides" in output


def test_catalogue_adds_missing_services_once(cli: CliRunner, empty_database_url: str) -> None:
    _, first = run(cli, "catalogue")
    _, second = run(cli, "catalogue")
    assert "14 ajouté(s), 0 déjà présent(s)" in first
    assert "0 ajouté(s), 14 déjà présent(s)" in second
    assert rows(empty_database_url)["service"] == 14
