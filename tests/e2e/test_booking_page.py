"""The resident's booking page, in a real browser (Playwright driving Debian's chromium)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain.commands import BookSlot
from mobile_services.service_layer.booking import BookingConfirmation
from mobile_services.storage import tables as t
from mobile_services.web.background import BackgroundServer
from tests.fixtures.valley import Valley

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR")
    yield context.new_page()
    context.close()


@pytest.fixture
def booked(server: BackgroundServer, valley: Valley) -> BookingConfirmation:
    """Marie booked the first slot of the stop at Guéret."""
    bus = server.app.state.bus
    return bus.handle(BookSlot(phone="+33612345678", slot_id=valley.slots["Guéret"][0], channel="sms"))  # type: ignore[no-any-return]


def test_page_shows_the_booking_in_french_and_cancels_it(
    page: Page, server: BackgroundServer, booked: BookingConfirmation, engine: Engine
) -> None:
    page.goto(f"{server.url}/r/{booked.token}")
    assert page.locator("h1").inner_text() == "Votre rendez-vous"
    card = page.locator(".card").inner_text()
    assert "Guéret" in card and "décembre 2026" in card and " de " in card
    assert page.get_by_role("link", name="Ajouter à mon agenda").get_attribute("href") == f"/r/{booked.token}.ics"

    page.get_by_role("button", name="Annuler ce rendez-vous").click()
    page.wait_for_url(f"**/r/{booked.token}?annule=1")
    assert "Votre rendez-vous est annulé" in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="Annuler ce rendez-vous").count() == 0
    with Session(engine) as session:
        booking = session.get(t.Booking, booked.booking_id)
        acknowledgement = session.exec(select(t.Message).where(t.Message.kind == "cancellation_ack")).one()
    assert booking is not None and booking.status == "cancelled"
    assert acknowledgement.recipient == "+33612345678"


def test_calendar_file_is_one_paris_event_and_cancelled_after(server: BackgroundServer, booked: BookingConfirmation) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = client.get(f"/r/{booked.token}.ics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(answer.content)
        [event] = calendar.walk("VEVENT")
        assert event.decoded("dtstart") == booked.start_at
        assert str(event["status"]) == "CONFIRMED"
        client.post(f"/r/{booked.token}/annuler")
        [cancelled] = Calendar.from_ical(client.get(f"/r/{booked.token}.ics").content).walk("VEVENT")
    assert str(cancelled["status"]) == "CANCELLED"
    assert int(cancelled["sequence"]) > int(event["sequence"])
    assert str(cancelled["uid"]) == str(event["uid"])


def test_unknown_or_forged_tokens_get_a_french_404(page: Page, server: BackgroundServer) -> None:
    response = page.goto(f"{server.url}/r/{'x' * 32}")
    assert response is not None and response.status == 404
    assert "aucun rendez-vous" in page.locator("h1").inner_text()
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/r/short").status_code in (400, 404)
        assert client.post(f"/r/{'y' * 32}/annuler").status_code == 404
