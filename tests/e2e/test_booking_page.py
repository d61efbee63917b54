"""The resident's booking page, in a real browser (Playwright driving Debian's chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain.commands import BookSlot
from mobile_services.service_layer.booking import BookingConfirmation
from mobile_services.service_layer.holds import hold_replacement
from mobile_services.storage import tables as t
from mobile_services.web.background import BackgroundServer
from notifications.ports import FixedClock
from tests.fixtures.valley import Valley



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
    assert "n'existe pas" in page.locator("h1").inner_text()
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/r/short").status_code in (400, 404)
        assert client.post(f"/r/{'y' * 32}/annuler").status_code == 404


def _stop_cancelled_with_a_held_seat(engine: Engine, server: BackgroundServer, booked: BookingConfirmation) -> int:
    """A re-plan cancelled the booking and kept a seat nearby (as carry_bookings does)."""
    settings = server.app.state.bus.dependencies["settings"]
    now = server.app.state.bus.dependencies["clock"].now()
    with Session(engine) as session:
        booking = session.get(t.Booking, booked.booking_id)
        assert booking is not None
        booking.status, booking.cancelled_at = "cancelled", now
        session.add(booking)
        slot = session.get(t.Slot, booking.slot_id)
        commune_id = session.get(t.Site, session.get(t.Visit, booking.visit_id).site_id).commune_id  # type: ignore[union-attr]
        held = hold_replacement(
            session, resident=session.get(t.Resident, booking.resident_id), cancelled=booking,  # type: ignore[arg-type]
            commune_id=commune_id, lost_start=slot.start_at, now=now, settings=settings,  # type: ignore[union-attr]
        )  # fmt: skip
        assert held is not None
        session.commit()
        return held.hold.id  # type: ignore[return-value]


def test_the_page_of_a_cancelled_booking_offers_the_held_seat_and_books_it(
    page: Page, server: BackgroundServer, booked: BookingConfirmation, engine: Engine
) -> None:
    hold_id = _stop_cancelled_with_a_held_seat(engine, server, booked)

    page.goto(f"{server.url}/r/{booked.token}")
    assert "Ce rendez-vous est annulé" in page.locator(".card").first.inner_text()
    offer = page.get_by_role("region", name="Une place vous est gardée").inner_text()
    assert "Elle vous est réservée jusqu'au" in offer and " de " in offer
    page.get_by_role("button", name="Réserver cette place").click()
    page.wait_for_url(lambda url: booked.token not in url)

    assert page.get_by_role("button", name="Annuler ce rendez-vous").count() == 1  # a live booking's page
    with Session(engine) as session:
        hold = session.get(t.SeatHold, hold_id)
        booking = session.exec(select(t.Booking).where(t.Booking.status == "confirmed")).one()
    assert hold is not None and hold.status == "taken"
    assert (booking.slot_id, booking.seat, booking.channel) == (hold.slot_id, hold.seat, "web")
    assert page.url.endswith(f"/r/{booking.token}")


def test_a_lapsed_hold_is_not_offered_and_cannot_be_taken(
    page: Page, server: BackgroundServer, booked: BookingConfirmation, engine: Engine, clock: FixedClock
) -> None:
    hold_id = _stop_cancelled_with_a_held_seat(engine, server, booked)
    with Session(engine) as session:
        hold = session.get(t.SeatHold, hold_id)
        assert hold is not None
        clock.set(hold.expires_at + timedelta(minutes=1))

    page.goto(f"{server.url}/r/{booked.token}")
    assert page.get_by_role("button", name="Réserver cette place").count() == 0
    with httpx.Client(base_url=server.url) as client:  # a page left open past the deadline
        answer = client.post(f"/r/{booked.token}/place")
    assert answer.status_code == 303 and answer.headers["location"] == f"/r/{booked.token}?refus=place"
    page.goto(f"{server.url}{answer.headers['location']}")
    assert "plus disponible" in page.get_by_role("alert").inner_text()
    with Session(engine) as session:
        assert session.exec(select(t.Booking).where(t.Booking.status == "confirmed")).all() == []
