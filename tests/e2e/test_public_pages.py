"""Commune, stop, code, booking, waiting-list, driver and counsellor pages in a real browser
(Playwright driving Debian's chromium), each checked by axe-core (WCAG 2.1 A/AA and best
practices, bundled with axe-playwright-python: nothing is downloaded) and screenshotted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from icalendar import Calendar
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain.commands import BookSlot, DispatchDueMessages
from mobile_services.service_layer.access import issue
from mobile_services.storage import tables as t
from mobile_services.web.background import BackgroundServer
from notifications.ports import FixedClock
from tests.fixtures.valley import Valley

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}
SCREENSHOTS = Path(os.environ.get("MOBILE_SERVICES_SCREENSHOTS", "/tmp/wt18-screens"))


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844}, accept_downloads=True)
    yield context.new_page()
    context.close()


def check(page: Page, axe: Axe, name: str) -> None:
    """No axe violation, lang="fr", under 50 KB; a full-page screenshot for the issue note."""
    results = axe.run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, results.generate_report()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert len(page.content().encode()) < 50 * 1024
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _code_from_the_fake_sender(server: BackgroundServer, number: str) -> str:
    bus = server.app.state.bus
    bus.handle(DispatchDueMessages())
    sent = [m.body for m in bus.dependencies["sms"].sent if m.to == number]
    match = re.search(r"\b(\d{6})\b", sent[-1])
    assert match is not None, sent
    return match.group(1)


def test_a_resident_books_from_the_commune_page_with_an_sms_code_then_cancels(
    page: Page, axe: Axe, server: BackgroundServer, engine: Engine, valley: Valley
) -> None:
    page.goto(f"{server.url}/communes/23096")
    assert page.locator("h1").inner_text() == "Bus France Services — Guéret"
    check(page, axe, "commune")
    page.get_by_role("link", name=re.compile("Voir les créneaux et réserver")).first.click()
    page.wait_for_url(f"**/passages/{valley.visits['Guéret']}")
    check(page, axe, "stop")
    page.get_by_label("10h00").check()
    page.get_by_label("Votre numéro de téléphone portable").fill("06 12 34 56 78")
    page.get_by_role("button", name="Recevoir mon code par SMS").click()
    page.wait_for_url("**/code/*")
    check(page, axe, "code")
    page.get_by_label("Code à 6 chiffres").fill(_code_from_the_fake_sender(server, "+33612345678"))
    page.get_by_role("button", name="Confirmer mon rendez-vous").click()
    page.wait_for_url("**/r/*")
    assert page.locator("h1").inner_text() == "Votre rendez-vous"
    assert "10h00" in page.locator(".card").inner_text()
    check(page, axe, "booking")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Ajouter à mon agenda").click()
    calendar = Calendar.from_ical(Path(download_info.value.path()).read_bytes())
    [event] = calendar.walk("VEVENT")
    assert "Guéret" in str(event["summary"]) and event.walk("VALARM")

    page.get_by_role("button", name="Annuler ce rendez-vous").click()
    page.wait_for_url("**?annule=1")
    assert "Votre rendez-vous est annulé" in page.get_by_role("status").inner_text()
    with Session(engine) as session:
        booking = session.exec(select(t.Booking)).one()
    assert (booking.channel, booking.status) == ("web", "cancelled")


def test_the_waiting_list_and_the_404_pages_pass_the_checks(
    page: Page, axe: Axe, server: BackgroundServer, engine: Engine, valley: Valley
) -> None:
    page.goto(f"{server.url}/communes/23069/attente")
    check(page, axe, "waitlist")
    page.get_by_label("Votre numéro de téléphone portable").fill("06 12 34 56 79")
    page.get_by_role("button", name="Recevoir mon code par SMS").click()
    page.wait_for_url("**/code/*")
    page.get_by_label("Code à 6 chiffres").fill(_code_from_the_fake_sender(server, "+33612345679"))
    page.get_by_role("button", name="M'inscrire sur la liste d'attente").click()
    assert "Vous êtes inscrit" in page.locator("h1").inner_text()
    check(page, axe, "waitlist-done")
    answer = page.goto(f"{server.url}/chauffeur/{'z' * 43}")
    assert answer is not None and answer.status == 404
    check(page, axe, "not-found")


def test_driver_and_counsellor_pages_and_marking_attended(
    page: Page, axe: Axe, server: BackgroundServer, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    bus = server.app.state.bus
    booked = bus.handle(BookSlot(phone="+33612345678", slot_id=valley.slots["Guéret"][0], service_id=valley.services["numerique"]))
    with Session(engine) as session:
        vehicle = session.exec(select(t.Vehicle)).one()
        agent = session.exec(select(t.Counsellor).where(t.Counsellor.name == "Agent A")).one()
        driver_token = issue(session, territory_id=valley.territory_id, kind="vehicle", subject_id=vehicle.id, now=clock.now())  # type: ignore[arg-type]
        counsellor_token = issue(session, territory_id=valley.territory_id, kind="counsellor", subject_id=agent.id, now=clock.now())  # type: ignore[arg-type]
        session.commit()
    clock.set(booked.start_at + timedelta(minutes=5))

    page.goto(f"{server.url}/chauffeur/{driver_token}")
    assert page.locator("h1").inner_text() == "Tournée du Mardi 1 décembre 2026"
    assert page.get_by_role("link", name="Naviguer vers Guéret (application GPS)").get_attribute("href", timeout=2000).startswith("geo:")  # type: ignore[union-attr]
    assert page.get_by_role("img", name=re.compile("Carte de la tournée")).count() == 1
    check(page, axe, "driver")
    assert _pages(page.pdf(format="A4")) == 1  # the driver prints the day on one A4 page

    page.goto(f"{server.url}/conseiller/{counsellor_token}")
    assert page.locator("h1").inner_text() == "Mes rendez-vous du Mardi 1 décembre 2026"
    check(page, axe, "counsellor")
    page.get_by_role("button", name="Venu au rendez-vous de 09h00").click()
    page.wait_for_url("**ok=*")
    assert "C'est enregistré." in page.get_by_role("status").inner_text()
    page.get_by_label("Personnes reçues sans rendez-vous à Guéret").fill("2")
    page.get_by_role("button", name="Enregistrer").first.click()
    page.wait_for_url("**ok=passage*")
    check(page, axe, "counsellor-marked")
    with Session(engine) as session:
        assert session.get(t.Booking, booked.booking_id).status == "attended"  # type: ignore[union-attr]
        assert session.get(t.Visit, valley.visits["Guéret"]).walk_ins == 2  # type: ignore[union-attr]


def test_the_accessibility_check_does_find_violations(page: Page, axe: Axe, server: BackgroundServer) -> None:
    """The check above can fail: the same page with an unlabelled field and no-contrast text does."""
    page.goto(f"{server.url}/communes/23096")
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        " '<input type=text><p style=\"color:#eee;background:#fff\">pâle</p>')"
    )
    results = axe.run(page, options=AXE_OPTIONS)
    rules = {violation["id"] for violation in results.response["violations"]}
    assert {"label", "color-contrast"} <= rules


def _pages(pdf: bytes) -> int:
    from io import BytesIO

    from pypdf import PdfReader

    return len(PdfReader(BytesIO(pdf)).pages)


def test_a_full_driver_day_still_prints_on_one_a4_page(
    page: Page, server: BackgroundServer, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    """Five stops in a day (the most a bus makes), each with an address: one A4 page."""
    with Session(engine) as session:
        guéret = session.get(t.Visit, valley.visits["Guéret"])
        assert guéret is not None
        for hour, name in zip((11, 13, 14, 16), ("Sainte-Feyre", "Saint-Léger-le-Guérétois", "Crocq", "Saint-Sulpice-le-Dunois")):
            commune = session.get(t.Commune, valley.communes[name])
            site = t.Site(commune_id=commune.id, name=f"Salle polyvalente de {name}", address="12 rue de la République",  # type: ignore[union-attr,arg-type]
                          latitude=commune.latitude, longitude=commune.longitude)  # type: ignore[union-attr]  # fmt: skip
            session.add(site)
            session.flush()
            start = guéret.start_at.replace(hour=hour - 1)
            session.add(t.Visit(plan_id=guéret.plan_id, site_id=site.id, day=guéret.day, start_at=start,  # type: ignore[arg-type]
                                end_at=start + timedelta(minutes=80), vehicle_id=guéret.vehicle_id, crew=guéret.crew))  # fmt: skip
        token = issue(session, territory_id=valley.territory_id, kind="vehicle", subject_id=guéret.vehicle_id, now=clock.now())
        session.commit()
    page.goto(f"{server.url}/chauffeur/{token}?jour=2026-12-01")
    assert page.locator("ol.stops > li").count() == 5
    assert _pages(page.pdf(format="A4")) == 1
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi, for the issue note
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "driver-print.png"), full_page=True)
