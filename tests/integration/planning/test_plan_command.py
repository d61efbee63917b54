"""`mobile-services plan` in a terminal: a table that stays readable at 80 columns, and a page always written."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.domain.calendar import week_of

runner = CliRunner()
#: two weeks ahead: never a past week, whatever the day the suite runs
WEEK = week_of(date.today() + timedelta(days=14))
PAGE = re.compile(r"^Carte et planning : (.+\.html)$", re.MULTILINE)


@pytest.fixture
def sedelle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str, sedelle_files: list[Path]) -> Path:
    """The Val de Sédelle imported through the command line; returns the data folder."""
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    imported = runner.invoke(app, ["territory", "import", *map(str, sedelle_files)])
    assert imported.exit_code == 0, imported.output
    return tmp_path / "data"


def _plan(monkeypatch: pytest.MonkeyPatch, columns: int, *extra: str) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = runner.invoke(app, ["plan", "--week", WEEK, "--time-limit", "2", *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_table_fits_80_columns_one_line_per_stop(sedelle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _plan(monkeypatch, 80)
    lines = output.splitlines()
    # every line fits, but the page's path: never cut, so that it can be copied
    too_wide = [line for line in lines if cell_len(line) > 80 and not PAGE.match(line)]
    assert not too_wide, too_wide
    stops = [line for line in lines if re.search(r" #\d+ ", line)]
    assert stops, output
    for line in stops:  # day, vehicle, stop number, times and place on one line
        assert re.match(r"^(lun|mar|mer|jeu|ven|sam|dim)\. \d\d/\d\d \S", line), line
        assert re.search(r" #\d+ +\d\d:\d\d-\d\d:\d\d \S", line), line
    # each route's figures together on one line of its header (first line, or the next one if the name is long)
    routes = [i for i, line in enumerate(lines) if line.startswith("Tournée ")]
    figures = re.compile(r"\d+ km, \d+h\d\d de conduite, (pause \d\d:\d\d-\d\d:\d\d|sans pause)")
    assert routes and all(figures.search(lines[i]) or figures.search(lines[i + 1]) for i in routes)
    # a stop line is followed by another stop, a route, or the end of the table: no wrapped cell
    first = lines.index(stops[0])
    for line in lines[first:]:
        if not line.strip():
            break
        assert line.startswith(("Tournée ", "    ", "lun", "mar", "mer", "jeu", "ven", "sam", "dim", "  aucun")), line
    assert "│" not in output and "┃" not in output  # no boxed table to wrap


def test_wider_terminals_get_wider_lines(sedelle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _plan(monkeypatch, 160)
    assert all(cell_len(line) <= 160 for line in output.splitlines() if not PAGE.match(line))
    assert "attendus" in output and " pers. " in output
    assert any(cell_len(line) > 80 for line in output.splitlines())


def test_plan_always_writes_the_page_named_after_territory_week_and_version(sedelle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = PAGE.search(_plan(monkeypatch, 80))
    assert first is not None
    page = Path(first.group(1))
    assert page.is_file() and page.parent == (sedelle / "plans").resolve()
    assert page.name == f"plan-creuse-23-{WEEK}-v1.html"  # territory « Creuse (23) »
    html = page.read_text(encoding="utf-8")
    assert '<html lang="fr">' in html and 'id="plan-map"' in html and "Légende" in html
    second = PAGE.search(_plan(monkeypatch, 80))
    assert second is not None and second.group(1).endswith(f"{WEEK}-v2.html") and Path(second.group(1)).is_file()
    assert page.is_file()  # the first version's page stays


def test_html_option_still_chooses_the_path(sedelle: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "rapports" / "semaine.html"
    output = _plan(monkeypatch, 80, "--html", str(target))
    match = PAGE.search(output)
    assert match is not None and Path(match.group(1)) == target.resolve() and target.is_file()
    # every version keeps its own page too (written when the draft is stored)
    assert len(list((sedelle / "plans").glob("plan-*-v1.html"))) == 1
