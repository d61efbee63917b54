"""Booking online: a one-time SMS code proves the phone, then BookSlot books like an SMS does."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain.commands import BookSlot, DispatchDueMessages
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.fakes import FakeSmsSender
from notifications.gsm import count_segments
from notifications.ports import FixedClock
from tests.fixtures.valley import Valley

PHONE = "06 12 34 56 78"
E164 = "+33612345678"


def _ask(client: TestClient, valley: Valley, slot: int, *, phone: str = PHONE, service: int | None = None):  # type: ignore[no-untyped-def]
    data = {"telephone": phone, "creneau": str(slot)}
    if service is not None:
        data["service"] = str(service)
    return client.post(f"/passages/{valley.visits['Châtel-Guyon']}/reserver", data=data, follow_redirects=False)


def _code_sent(bus: MessageBus, sms: FakeSmsSender, to: str = E164) -> str:
    """Dispatch the outbox and read the code the fake sender got."""
    bus.handle(DispatchDueMessages())
    [body] = [m.body for m in sms.sent if m.to == to and "code" in m.body][-1:]
    assert count_segments(body).segments == 1
    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, body
    return match.group(1)


def test_the_right_code_books_through_the_sms_rules_and_shows_the_booking_page(
    client: TestClient, bus: MessageBus, sms: FakeSmsSender, engine: Engine, valley: Valley
) -> None:
    asked = _ask(client, valley, valley.slots["Châtel-Guyon"][1], service=valley.services["caf"])
    assert asked.status_code == 303 and asked.headers["location"].startswith("/code/")
    assert PHONE.replace(" ", "") not in asked.headers["location"] and "3361234" not in asked.headers["location"]
    page = client.get(asked.headers["location"])
    assert page.status_code == 200 and "+336…78" in page.text
    code = _code_sent(bus, sms)
    done = client.post(asked.headers["location"], data={"code": code}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/r/")
    with Session(engine) as session:
        booking = session.exec(select(t.Booking)).one()
        confirmation = session.exec(select(t.Message).where(t.Message.kind == "confirmation")).one()
        reminders = session.exec(select(t.Message).where(t.Message.kind.startswith("reminder"))).all()  # type: ignore[attr-defined]
    assert (booking.slot_id, booking.channel, booking.service_id) == (valley.slots["Châtel-Guyon"][1], "web", valley.services["caf"])
    assert confirmation.recipient == E164 and reminders
    assert "Votre rendez-vous" in client.get(done.headers["location"]).text
    # the code is used up
    again = client.post(asked.headers["location"], data={"code": code}, follow_redirects=False)
    assert again.status_code == 400 and "expiré ou a déjà servi" in again.text


def test_wrong_codes_cost_tries_and_five_end_the_code(
    client: TestClient, bus: MessageBus, sms: FakeSmsSender, engine: Engine, valley: Valley
) -> None:
    asked = _ask(client, valley, valley.slots["Châtel-Guyon"][0])
    code = _code_sent(bus, sms)
    wrong = "000000" if code != "000000" else "111111"
    first = client.post(asked.headers["location"], data={"code": wrong})
    assert first.status_code == 400 and "Il vous reste 4 essais" in first.text
    for _ in range(4):
        last = client.post(asked.headers["location"], data={"code": wrong})
    assert "Trop d'essais" in last.text
    blocked = client.post(asked.headers["location"], data={"code": code})
    assert blocked.status_code == 400 and "Trop d'essais" in blocked.text
    with Session(engine) as session:
        assert session.exec(select(t.Booking)).all() == []


def test_a_code_expires_after_ten_minutes(
    client: TestClient, bus: MessageBus, sms: FakeSmsSender, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    asked = _ask(client, valley, valley.slots["Châtel-Guyon"][0])
    code = _code_sent(bus, sms)
    clock.advance(timedelta(minutes=10, seconds=1))
    late = client.post(asked.headers["location"], data={"code": code})
    assert late.status_code == 400 and "a expiré" in late.text
    assert client.get(asked.headers["location"]).status_code == 404
    with Session(engine) as session:
        assert session.exec(select(t.Booking)).all() == []


def test_codes_are_rate_limited_per_phone_and_per_address(client: TestClient, engine: Engine, valley: Valley) -> None:
    slot = valley.slots["Châtel-Guyon"][0]
    for _ in range(3):
        assert _ask(client, valley, slot).status_code == 303
    refused = _ask(client, valley, slot)
    assert refused.status_code == 400 and "Trop de codes" in refused.text
    # the same address, other numbers: ten codes an hour at most
    answers = [_ask(client, valley, slot, phone=f"06 12 34 56 {n:02d}").status_code for n in range(10, 18)]
    assert answers == [303] * 7 + [400]
    with Session(engine) as session:
        assert len(session.exec(select(t.WebCode)).all()) == 10
        assert len(session.exec(select(t.Message).where(t.Message.kind == "login_code")).all()) == 10


def test_a_landline_or_nonsense_gets_no_code(client: TestClient, engine: Engine, valley: Valley) -> None:
    for phone in ("05 55 00 00 00", "bonjour", ""):
        answer = _ask(client, valley, valley.slots["Châtel-Guyon"][0], phone=phone)
        assert answer.status_code == 400 and "portable français" in answer.text
    with Session(engine) as session:
        assert session.exec(select(t.Message)).all() == []


def test_a_seat_taken_between_the_page_and_the_code_gives_a_clear_message_and_no_booking(
    client: TestClient, bus: MessageBus, sms: FakeSmsSender, engine: Engine, valley: Valley
) -> None:
    slot = valley.slots["Châtel-Guyon"][2]
    asked = _ask(client, valley, slot)
    code = _code_sent(bus, sms)
    bus.handle(BookSlot(phone="+33698765432", slot_id=slot))  # someone else, by SMS, meanwhile
    answer = client.post(asked.headers["location"], data={"code": code}, follow_redirects=False)
    assert answer.status_code == 409 and "vient d'être pris" in answer.text
    with Session(engine) as session:
        assert [b.channel for b in session.exec(select(t.Booking))] == ["sms"]
    # and asking for a code for a seat already gone is refused at once, without an SMS
    again = _ask(client, valley, slot, phone="06 11 22 33 44")
    assert again.status_code == 409 and "vient d'être pris" in again.text


def test_one_live_booking_per_stop_holds_online_too(
    client: TestClient, bus: MessageBus, sms: FakeSmsSender, engine: Engine, valley: Valley
) -> None:
    bus.handle(BookSlot(phone=E164, slot_id=valley.slots["Châtel-Guyon"][0]))
    asked = _ask(client, valley, valley.slots["Châtel-Guyon"][1])
    answer = client.post(asked.headers["location"], data={"code": _code_sent(bus, sms)})
    assert answer.status_code == 400 and "déjà un rendez-vous" in answer.text
    with Session(engine) as session:
        assert len(session.exec(select(t.Booking)).all()) == 1


def test_the_waiting_list_is_joined_with_a_code(
    client: TestClient, bus: MessageBus, sms: FakeSmsSender, engine: Engine, valley: Valley
) -> None:
    form = client.get("/communes/23069/attente")
    assert form.status_code == 200 and "Liste d'attente de Crocq" in form.text
    asked = client.post("/communes/23069/attente", data={"telephone": PHONE}, follow_redirects=False)
    assert asked.status_code == 303
    done = client.post(asked.headers["location"], data={"code": _code_sent(bus, sms)})
    assert done.status_code == 200 and "Vous êtes inscrit" in done.text
    with Session(engine) as session:
        [entry] = session.exec(select(t.WaitlistEntry)).all()
    assert entry.commune_id == valley.communes["Crocq"] and entry.status == "open"
