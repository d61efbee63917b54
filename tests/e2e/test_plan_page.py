"""The plan page `mobile-services plan` writes, in a real browser (Playwright driving Debian's chromium)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.domain.calendar import week_of

WEEK = week_of(date.today() + timedelta(days=14))
runner = CliRunner()


@pytest.fixture
def plan_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str, sedelle_files: list[Path], browser: Browser) -> Iterator[Page]:
    """The Val de Sédelle imported and planned through the command line; its page open in chromium."""
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["territory", "import", *map(str, sedelle_files)]).exit_code == 0
    planned = runner.invoke(app, ["plan", "--week", WEEK, "--time-limit", "2"])
    assert planned.exit_code == 0, planned.output
    match = re.search(r"^Carte et planning : (.+\.html)$", planned.output, re.MULTILINE)
    assert match is not None, planned.output
    context = browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(Path(match.group(1)).as_uri())
    yield page
    context.close()


def test_map_shows_commune_areas_names_legend_and_scale(plan_page: Page) -> None:
    page = plan_page
    assert page.locator("html").get_attribute("lang") == "fr"
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Plan de la semaine {WEEK}")
    # figures written the French way: thousands apart, decimal comma
    kpis = page.locator("ul.kpis").inner_text()
    assert re.search(r"\d\u202f\d{3}\s*habitants couverts sur \d+\u202f\d{3}", kpis), kpis
    assert re.search(r"\d+(,\d)? km\s*\d+(,\d)? h de conduite", kpis), kpis
    carte = page.get_by_role("img", name=f"Carte des tournées de la semaine {WEEK}")
    expect(carte).to_be_visible()
    # every commune has an area with its name as a tooltip; at least one is visited
    areas = carte.locator("path.area")
    assert areas.count() == 8
    titles = [areas.nth(i).locator("title").text_content() or "" for i in range(areas.count())]
    assert all(re.match(r"^[A-ZÉ][\w' -]+ \(\d[\d\u202f]* hab\.\) : ", title) for title in titles), titles
    assert carte.locator("path.area.visited").count() >= 1
    # the bourgs are named on the map, readable (not covered by another name)
    labels = carte.locator("text.label")
    names = [labels.nth(i).text_content() for i in range(labels.count())]
    assert "Bourg-de-Sédelle" in names  # the largest commune
    boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    frame = carte.bounding_box()
    assert frame is not None and all(b is not None for b in boxes)
    for box in boxes:
        assert box and frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 0.5
    for a, b in itertools.combinations(boxes, 2):
        assert a and b and (
            a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1
            or a["y"] + a["height"] <= b["y"] + 1 or b["y"] + b["height"] <= a["y"] + 1
        ), (a, b)
    # scale bar and legend
    expect(carte.locator("g.scale")).to_contain_text("km")
    legend = page.locator("figcaption#legende")
    expect(legend).to_be_visible()
    expect(legend.get_by_role("heading", name="Légende")).to_be_visible()
    for entry in ("Commune visitée cette semaine", "Sans arrêt malgré une demande", "Autre commune", "Dépôt du véhicule", "Trajet en bus"):
        expect(legend).to_contain_text(entry)
    expect(legend.get_by_role("row", name=re.compile("Bus Sédelle"))).to_be_visible()


def test_routes_have_the_same_number_and_colour_on_the_map_the_legend_and_the_timeline(plan_page: Page) -> None:
    page = plan_page
    lanes = page.locator(".lane")
    assert lanes.count() >= 1
    for i in range(lanes.count()):
        lane = lanes.nth(i)
        number = lane.get_attribute("data-route")
        assert number == str(i + 1)  # numbered in the timeline's order
        colour = lane.locator(".badge").evaluate("e => getComputedStyle(e).backgroundColor")
        legend_badge = page.locator("figcaption#legende .badge", has_text=re.compile(rf"^{number}$"))
        expect(legend_badge).to_have_count(1)
        assert legend_badge.evaluate("e => getComputedStyle(e).backgroundColor") == colour
        line = page.locator(f'#plan-map polyline[data-route="{number}"]')
        if line.count():  # a route with stops is drawn, in its colour, with its number on each stop
            assert line.evaluate("e => getComputedStyle(e).stroke") == colour
            stops = page.locator(f'#plan-map g.stop[data-route="{number}"]')
            assert stops.count() >= 1 and stops.first.locator("text").text_content() == number
