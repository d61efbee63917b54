"""Calendar feeds: the commune's public feed, private feeds, a booking's .ics.

Every feed is read back with icalendar and with an independent reader
(recurring-ical-events); UIDs survive rebuilds and re-plans, SEQUENCE goes up on every
change, dropped stops stay as STATUS:CANCELLED, and a matching ETag gets a 304.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import recurring_ical_events
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import Engine

from mobile_services.domain.commands import BookSlot
from mobile_services.service_layer.messagebus import MessageBus
from notifications.ports import FixedClock
from tests.fixtures.valley import Valley

from .conftest import republish, token_for

WEEK_START = datetime(2026, 11, 30, tzinfo=UTC)


def _events(body: bytes) -> dict[str, object]:
    """UID -> VEVENT, after checking an independent reader finds the same events."""
    calendar = Calendar.from_ical(body)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    independent = recurring_ical_events.of(calendar).between(WEEK_START - timedelta(days=60), WEEK_START + timedelta(days=90))
    assert sorted(str(e["uid"]) for e in independent) == sorted(events)
    for event in independent:
        assert events[str(event["uid"])].decoded("dtstart") == event.decoded("dtstart")
    return events  # type: ignore[return-value]


def test_the_commune_feed_is_a_published_paris_calendar_of_its_stops(client: TestClient, valley: Valley) -> None:
    answer = client.get("/communes/23096/calendar.ics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(answer.content)
    assert str(calendar["method"]) == "PUBLISH"
    assert str(calendar["x-wr-calname"]) == "Bus France Services — Guéret"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT12H" in answer.text and "X-PUBLISHED-TTL:PT12H" in answer.text
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Europe/Paris"
    [event] = _events(answer.content).values()
    assert str(event["summary"]) == "Bus France Services — Guéret"  # type: ignore[index]
    assert event.decoded("dtstart") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert event["dtstart"].params["TZID"] == "Europe/Paris"  # type: ignore[index]
    assert (event["geo"].latitude, event["geo"].longitude) == (46.1714, 1.8717)  # type: ignore[index]
    description = str(event["description"])  # type: ignore[index]
    assert "envoyez RDV par SMS" in description
    assert f"https://rdv.example.fr/passages/{valley.visits['Guéret']}" in description
    assert "Aide numérique" in description  # the services the crew offers
    assert "Mairie de Guéret" in str(event["location"])  # type: ignore[index]


def test_an_unchanged_feed_keeps_its_bytes_and_answers_304(client: TestClient) -> None:
    first = client.get("/communes/23096/calendar.ics")
    second = client.get("/communes/23096/calendar.ics")
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    cached = client.get("/communes/23096/calendar.ics", headers={"If-None-Match": first.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""
    stale = client.get("/communes/23096/calendar.ics", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_a_moved_stop_keeps_its_uid_with_a_higher_sequence_and_a_dropped_one_is_cancelled(
    client: TestClient, bus: MessageBus, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    before_gueret = client.get("/communes/23096/calendar.ics")
    [old] = _events(before_gueret.content).values()
    [old_leger] = _events(client.get("/communes/87156/calendar.ics").content).values()
    [old_chatel] = _events(client.get("/communes/63103/calendar.ics").content).values()
    clock.advance(timedelta(hours=1))
    republish(bus, engine, valley, move={"Guéret": timedelta(hours=1)}, drop=("Saint-Léger-la-Montagne",))

    after = client.get("/communes/23096/calendar.ics", headers={"If-None-Match": before_gueret.headers["etag"]})
    assert after.status_code == 200, "the feed changed: no 304"
    [moved] = _events(after.content).values()
    assert str(moved["uid"]) == str(old["uid"])  # type: ignore[index]
    assert int(moved["sequence"]) > int(old["sequence"])  # type: ignore[index]
    assert moved.decoded("dtstart") == old.decoded("dtstart") + timedelta(hours=1)  # type: ignore[attr-defined]
    assert str(moved["status"]) == "CONFIRMED"  # type: ignore[index]

    [dropped] = _events(client.get("/communes/87156/calendar.ics").content).values()
    assert str(dropped["uid"]) == str(old_leger["uid"])  # type: ignore[index]
    assert str(dropped["status"]) == "CANCELLED"  # type: ignore[index]
    assert int(dropped["sequence"]) > int(old_leger["sequence"])  # type: ignore[index]

    [kept] = _events(client.get("/communes/63103/calendar.ics").content).values()
    assert (str(kept["uid"]), int(kept["sequence"])) == (str(old_chatel["uid"]), int(old_chatel["sequence"]))  # type: ignore[index]


def test_a_booking_calendar_has_an_alarm_and_follows_its_moves(
    client: TestClient, bus: MessageBus, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    booked = bus.handle(BookSlot(phone="+33612345678", slot_id=valley.slots["Guéret"][0]))
    first = client.get(f"/r/{booked.token}.ics")
    [event] = _events(first.content).values()
    [alarm] = event.walk("VALARM")  # type: ignore[attr-defined]
    assert str(alarm["action"]) == "DISPLAY" and alarm.decoded("trigger") < timedelta(0)
    assert client.get(f"/r/{booked.token}.ics").content == first.content  # same bytes on a rebuild

    clock.advance(timedelta(hours=1))
    republish(bus, engine, valley, move={"Guéret": timedelta(hours=1)})
    [moved] = _events(client.get(f"/r/{booked.token}.ics").content).values()
    assert str(moved["uid"]) == str(event["uid"])  # type: ignore[index]
    assert int(moved["sequence"]) > int(event["sequence"])  # type: ignore[index]
    assert moved.decoded("dtstart") == event.decoded("dtstart") + timedelta(hours=1)  # type: ignore[attr-defined]

    client.post(f"/r/{booked.token}/annuler")
    [cancelled] = _events(client.get(f"/r/{booked.token}.ics").content).values()
    assert str(cancelled["status"]) == "CANCELLED" and int(cancelled["sequence"]) > int(moved["sequence"])  # type: ignore[index]
    assert not cancelled.walk("VALARM")  # type: ignore[attr-defined]


def test_private_feeds_show_the_vehicle_s_and_the_counsellor_s_own_stops(
    client: TestClient, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    bus_token = token_for(engine, valley, "vehicle", "Bus 1", clock.now())
    agent_b = token_for(engine, valley, "counsellor", "Agent B", clock.now())
    vehicle_feed = client.get(f"/chauffeur/{bus_token}/calendar.ics")
    assert vehicle_feed.status_code == 200 and vehicle_feed.headers["cache-control"] == "no-store"
    assert len(_events(vehicle_feed.content)) == 3
    counsellor_feed = client.get(f"/conseiller/{agent_b}/calendar.ics")
    [only] = _events(counsellor_feed.content).values()
    assert "Châtel-Guyon" in str(only["summary"])  # type: ignore[index]
    assert "Rendez-vous pris : 0" in str(only["description"])  # type: ignore[index]
    cached = client.get(f"/conseiller/{agent_b}/calendar.ics", headers={"If-None-Match": counsellor_feed.headers["etag"]})
    assert cached.status_code == 304


def test_a_stop_given_to_another_vehicle_and_crew_is_cancelled_in_the_old_private_feeds(
    client: TestClient, bus: MessageBus, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    from sqlmodel import Session, select

    from mobile_services.storage import tables as t

    with Session(engine) as session:
        other = t.Vehicle(territory_id=valley.territory_id, name="Bus 2", depot_latitude=46.17, depot_longitude=1.87)
        session.add(other)
        session.commit()
        other_id = other.id
        agent_b = session.exec(select(t.Counsellor).where(t.Counsellor.name == "Agent B")).one().id
    feeds = {
        name: f"/{path}/{token_for(engine, valley, kind, name, clock.now())}/calendar.ics"
        for name, kind, path in (("Bus 1", "vehicle", "chauffeur"), ("Bus 2", "vehicle", "chauffeur"),
                                 ("Agent A", "counsellor", "conseiller"), ("Agent B", "counsellor", "conseiller"))
    }  # fmt: skip
    uid = next(str(e["uid"]) for e in _events(client.get(feeds["Bus 1"]).content).values() if "Guéret" in str(e["summary"]))  # type: ignore[index]
    clock.advance(timedelta(hours=1))
    republish(bus, engine, valley, reassign={"Guéret": (other_id, [agent_b])})  # type: ignore[dict-item]

    def gueret(name: str) -> object:
        [event] = [e for e in _events(client.get(feeds[name]).content).values() if "Guéret" in str(e["summary"])]  # type: ignore[index]
        return event

    for name, status in (("Bus 1", "CANCELLED"), ("Agent A", "CANCELLED"), ("Bus 2", "CONFIRMED"), ("Agent B", "CONFIRMED")):
        event = gueret(name)
        assert (str(event["uid"]), str(event["status"])) == (uid, status), name  # type: ignore[index]
    assert int(gueret("Bus 1")["sequence"]) > 0  # type: ignore[index]
    # the public feed is the commune's: the stop is simply still there
    [public] = _events(client.get("/communes/23096/calendar.ics").content).values()
    assert (str(public["uid"]), str(public["status"])) == (uid, "CONFIRMED")  # type: ignore[index]
