"""`mobile-services poster`: one A4 page whose QR code decodes to the commune page."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlmodel import Session
from typer.testing import CliRunner

from mobile_services.cli import app as cli_app
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, upgrade
from tests.fixtures.valley import build_valley

A4_POINTS = (595, 842)


@pytest.fixture
def cli(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    valley = build_valley(engine)
    with Session(engine) as session:
        territory = session.get(t.Territory, valley.territory_id)
        territory.sms_number = "+33939000001"  # type: ignore[union-attr]
        session.add(territory)
        first = session.get(t.Visit, valley.visits["Guéret"])
        for week in range(1, 7):  # seven stops in the next weeks: the poster shows six
            session.add(t.Visit(plan_id=first.plan_id, site_id=first.site_id, day=first.day + timedelta(weeks=week),  # type: ignore[union-attr]
                                start_at=first.start_at + timedelta(weeks=week), end_at=first.end_at + timedelta(weeks=week),  # type: ignore[union-attr]
                                vehicle_id=first.vehicle_id, crew=first.crew))  # type: ignore[union-attr]  # fmt: skip
        session.commit()
    engine.dispose()
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOBILE_SERVICES_PUBLIC_BASE_URL", "https://rdv.example.fr")
    return CliRunner()


def test_the_poster_is_one_a4_page_whose_qr_code_opens_the_commune_page(cli: CliRunner, tmp_path: Path, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to("2026-11-23T09:00:00+00:00", tick=False)  # the valley's "now": its stops are ahead
    out = tmp_path / "affiche.pdf"
    result = cli.invoke(cli_app, ["poster", "--commune", "23096", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "https://rdv.example.fr/communes/23096" in result.output
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    [page] = reader.pages
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == A4_POINTS
    text = " ".join(page.extract_text().split())
    assert "Guéret" in text and "RDV" in text and "09 39 00 00 01" in text
    assert "Mardi 1 décembre 2026, de 09h00 à 11h00" in text
    assert text.count("de 09h00 à 11h00") == 6 and "Mardi 5 janvier 2027" in text and "12 janvier" not in text
    [image] = page.images
    decoded = zxingcpp.read_barcodes(Image.open(BytesIO(image.data)).convert("L"))
    assert [code.text for code in decoded] == ["https://rdv.example.fr/communes/23096"]


def test_an_unknown_commune_gets_a_french_error(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(cli_app, ["poster", "--commune", "99999", "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "introuvable" in result.output
    assert not (tmp_path / "x.pdf").exists()
