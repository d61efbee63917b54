"""The commune, stop, driver and counsellor pages, server-rendered (in-process client)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain.commands import BookSlot
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.ports import FixedClock
from tests.fixtures.valley import Valley

from .conftest import republish, token_for

MAX_PAGE_BYTES = 50 * 1024


def _check_page(answer) -> str:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert len(answer.content) < MAX_PAGE_BYTES
    assert '<html lang="fr">' in answer.text and "<main" in answer.text and "<h1>" in answer.text
    assert "<script" not in answer.text  # usable without JavaScript
    return answer.text  # type: ignore[no-any-return]


def test_the_commune_page_lists_the_next_stops_and_how_to_book(client: TestClient, engine: Engine, valley: Valley) -> None:
    with Session(engine) as session:
        territory = session.get(t.Territory, valley.territory_id)
        territory.sms_number = "+33939000001"  # type: ignore[union-attr]
        session.add(territory)
        session.commit()
    html = _check_page(client.get("/communes/23096"))
    assert "Bus France Services — Guéret" in html
    assert "Mardi 1 décembre 2026, de 09h00 à 11h00" in html
    assert "Mairie de Guéret" in html and "Aide numérique" in html
    assert "09 39 00 00 01" in html
    assert f'href="/passages/{valley.visits["Guéret"]}"' in html
    assert 'href="webcal://rdv.example.fr/communes/23096/calendar.ics"' in html
    assert 'href="/communes/23096/calendar.ics"' in html
    empty = _check_page(client.get("/communes/23069"))  # Crocq: no stop
    assert "Aucun passage" in empty


def test_the_stop_page_shows_free_times_and_the_services_of_its_crew(
    client: TestClient, bus: MessageBus, valley: Valley
) -> None:
    html = _check_page(client.get(f"/passages/{valley.visits['Châtel-Guyon']}"))
    assert "CAF : allocations" in html and "Impôts : déclaration en ligne" in html
    assert "Assurance maladie" not in html  # nobody in the crew has the skill
    assert len(re.findall(r'name="creneau"', html)) == 3
    bus.handle(BookSlot(phone="+33612345678", slot_id=valley.slots["Châtel-Guyon"][0]))
    assert len(re.findall(r'name="creneau"', client.get(f"/passages/{valley.visits['Châtel-Guyon']}").text)) == 2


def test_a_stop_link_of_a_replaced_version_leads_to_the_stop_that_continues_it(
    client: TestClient, bus: MessageBus, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    clock.advance(timedelta(hours=1))
    republish(bus, engine, valley, move={"Guéret": timedelta(hours=1)}, drop=("Saint-Léger-la-Montagne",))
    moved = client.get(f"/passages/{valley.visits['Guéret']}", follow_redirects=False)
    assert moved.status_code == 301
    assert "10h00" not in moved.headers["location"] and moved.headers["location"] != f"/passages/{valley.visits['Guéret']}"
    assert "de 10h00 à 12h00" in _check_page(client.get(moved.headers["location"]))
    assert client.get(f"/passages/{valley.visits['Saint-Léger-la-Montagne']}").status_code == 404


def test_the_driver_page_lists_the_day_in_order_with_navigation_and_a_map(
    client: TestClient, bus: MessageBus, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    with Session(engine) as session:
        site = session.get(t.Site, session.get(t.Visit, valley.visits["Guéret"]).site_id)  # type: ignore[union-attr]
        site.address = "1 place Bonnyaud"  # type: ignore[union-attr]
        session.add(site)
        session.commit()
    bus.handle(BookSlot(phone="+33612345678", slot_id=valley.slots["Guéret"][0]))
    bus.handle(BookSlot(phone="+33612345679", slot_id=valley.slots["Guéret"][1]))
    token = token_for(engine, valley, "vehicle", "Bus 1", clock.now())
    html = _check_page(client.get(f"/chauffeur/{token}", params={"jour": "2026-12-01"}, follow_redirects=False))
    assert "Tournée du Mardi 1 décembre 2026" in html
    assert "09h00 – 11h00 : Guéret" in html and "1 place Bonnyaud" in html
    assert "2 rendez-vous pris" in html
    assert 'href="geo:46.171400,1.871700?q=46.171400,1.871700(Mairie%20de%20Gu%C3%A9ret)"' in html
    assert "https://www.openstreetmap.org/?mlat=46.171400&amp;mlon=1.871700" in html
    assert "<svg" in html and "<polyline" in html and html.count("<circle") == 1
    assert "@page { size: A4" in html
    assert client.get(f"/chauffeur/{token}").headers["referrer-policy"] == "no-referrer"
    # the next day with stops is one click away
    assert 'href="?jour=2026-12-02"' in html
    other_day = _check_page(client.get(f"/chauffeur/{token}", params={"jour": "2026-12-02"}))
    assert "Saint-Léger-la-Montagne" in other_day and "Guéret" not in other_day.split("<h1>")[1].split("Jour précédent")[1]


def test_the_counsellor_marks_attended_and_no_show_and_records_walk_ins(
    client: TestClient, bus: MessageBus, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    first = bus.handle(BookSlot(phone="+33612345678", slot_id=valley.slots["Guéret"][0], service_id=valley.services["numerique"]))
    second = bus.handle(BookSlot(phone="+33612345679", slot_id=valley.slots["Guéret"][2]))
    token = token_for(engine, valley, "counsellor", "Agent A", clock.now())
    html = _check_page(client.get(f"/conseiller/{token}", params={"jour": "2026-12-01"}, follow_redirects=False))
    assert "Aide numérique" in html and "+336…78" in html and "+33612345678" not in html
    assert 'value="oui"' not in html  # nothing to mark before the stop
    refused = client.post(f"/conseiller/{token}/rdv/{first.booking_id}", data={"presence": "oui", "jour": "2026-12-01"}, follow_redirects=False)
    assert refused.status_code == 303 and "erreur=presence" in refused.headers["location"]

    clock.set(first.start_at + timedelta(minutes=5))
    html = client.get(f"/conseiller/{token}", params={"jour": "2026-12-01"}, follow_redirects=False).text
    assert html.count('value="oui"') == 1  # the second booking is still an hour away
    done = client.post(f"/conseiller/{token}/rdv/{first.booking_id}", data={"presence": "oui", "jour": "2026-12-01"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/conseiller/{token}?jour=2026-12-01")
    clock.set(second.start_at + timedelta(minutes=20))
    client.post(f"/conseiller/{token}/rdv/{second.booking_id}", data={"presence": "non", "jour": "2026-12-01"}, follow_redirects=False)
    walk = client.post(f"/conseiller/{token}/passages/{valley.visits['Guéret']}/sans-rdv", data={"nombre": "4", "jour": "2026-12-01"}, follow_redirects=False)
    assert walk.status_code == 303
    bad = client.post(f"/conseiller/{token}/passages/{valley.visits['Guéret']}/sans-rdv", data={"nombre": "-2", "jour": "2026-12-01"}, follow_redirects=False)
    assert "erreur=nombre" in bad.headers["location"]
    page = client.get(f"/conseiller/{token}", params={"jour": "2026-12-01"}, follow_redirects=False).text
    assert "Venu" in page and "Absent" in page and 'value="4"' in page
    with Session(engine) as session:
        assert session.get(t.Booking, first.booking_id).status == "attended"  # type: ignore[union-attr]
        assert session.get(t.Booking, second.booking_id).status == "no_show"  # type: ignore[union-attr]
        assert session.get(t.Visit, valley.visits["Guéret"]).walk_ins == 4  # type: ignore[union-attr]
        [signal] = session.exec(select(t.DemandSignal).where(t.DemandSignal.source == "walk_in")).all()
    assert (signal.commune_id, signal.weight) == (valley.communes["Guéret"], 4.0)
    # recording again corrects the figure, it does not add to it
    client.post(f"/conseiller/{token}/passages/{valley.visits['Guéret']}/sans-rdv", data={"nombre": "3", "jour": "2026-12-01"}, follow_redirects=False)
    with Session(engine) as session:
        [signal] = session.exec(select(t.DemandSignal).where(t.DemandSignal.source == "walk_in")).all()
    assert signal.weight == 3.0
