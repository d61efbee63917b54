"""iCalendar output parsed back with icalendar, including the DST weeks of Europe/Paris."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from notifications.ical import (
    CalendarEntry,
    booking_entry,
    booking_event,
    booking_uid,
    etag,
    feed,
    visit_entry,
    visit_uid,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
STAMP = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
HOST = "rdv.example.fr"


def entry(uid: str, start: datetime, minutes: int = 30, **overrides: object) -> CalendarEntry:
    fields: dict[str, object] = dict(
        uid=uid,
        start=start,
        end=start + timedelta(minutes=minutes),
        summary="RDV CAF à Crocq",
        location="Mairie, Crocq",
        description="Apportez votre carte Vitale",
    )
    fields.update(overrides)
    return CalendarEntry(**fields)  # type: ignore[arg-type]


def test_uids_are_deterministic() -> None:
    assert booking_uid(42, HOST) == "booking-42@rdv.example.fr"
    assert visit_uid(7, HOST) == "visit-7@rdv.example.fr"
    with pytest.raises(ValueError):
        booking_uid(1, "user@host")


def test_a_booking_event_is_one_published_vevent_in_paris_time() -> None:
    start = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)
    ics = booking_event(entry(booking_uid(42, HOST), start, sequence=3), stamp=STAMP)
    calendar = Calendar.from_ical(ics)
    assert calendar["METHOD"] == "PUBLISH"
    [event] = calendar.events
    assert event["UID"] == "booking-42@rdv.example.fr"
    assert event["SEQUENCE"] == 3
    assert event["STATUS"] == "CONFIRMED"
    assert event["LOCATION"] == "Mairie, Crocq"
    assert event.start == datetime(2026, 12, 8, 14, 30, tzinfo=PARIS)
    assert event.start.tzinfo is not None and str(event.start.tzinfo) == "Europe/Paris"
    assert event.end - event.start == timedelta(minutes=30)
    assert b"DTSTART;TZID=Europe/Paris:20261208T143000" in ics
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
    assert calendar.get_missing_tzids() == set()
    assert event.DTSTAMP == STAMP


@pytest.mark.parametrize(
    ("week_start", "change"),
    [
        (date(2026, 3, 23), date(2026, 3, 29)),  # last Sunday of March: UTC+1 -> UTC+2
        (date(2026, 10, 19), date(2026, 10, 25)),  # last Sunday of October: UTC+2 -> UTC+1
    ],
)
def test_a_dst_week_keeps_wall_clock_times_and_utc_instants(week_start: date, change: date) -> None:
    # A stop at 10:00 Paris time every day of the week around the change.
    starts = [
        datetime.combine(week_start + timedelta(days=d), datetime.min.time(), PARIS).replace(hour=10)
        for d in range(8)
    ]
    entries = [entry(visit_uid(i, HOST), s.astimezone(UTC), minutes=180) for i, s in enumerate(starts)]
    calendar = Calendar.from_ical(feed(entries, "Crocq", stamp=STAMP))
    events = calendar.events
    assert len(events) == 8
    for original, event in zip(starts, events, strict=True):
        assert (event.start.hour, event.start.minute) == (10, 0)
        assert event.start.astimezone(UTC) == original.astimezone(UTC)
        before = event.start.date() < change
        expected_offset = timedelta(hours=1 if before == (change.month == 3) else 2)
        assert event.start.utcoffset() == expected_offset
    # The generated VTIMEZONE carries the transition of that Sunday.
    [vtimezone] = calendar.timezones
    transitions = {
        (sub.name, sub["DTSTART"].dt.date(), sub["TZOFFSETTO"].td)
        for sub in vtimezone.subcomponents
    }
    to_offset = timedelta(hours=2 if change.month == 3 else 1)
    kind = "DAYLIGHT" if change.month == 3 else "STANDARD"
    assert (kind, change, to_offset) in transitions


def test_an_event_across_the_spring_jump_lasts_its_real_duration() -> None:
    # 01:30 -> 04:00 Paris on 29 March 2026 is 1h30 of real time (02:00-03:00 does not exist).
    start = datetime(2026, 3, 29, 1, 30, tzinfo=PARIS)
    end = datetime(2026, 3, 29, 4, 0, tzinfo=PARIS)
    ics = booking_event(entry("booking-1@h", start, end=end), stamp=STAMP)
    [event] = Calendar.from_ical(ics).events
    assert event.end.astimezone(UTC) - event.start.astimezone(UTC) == timedelta(hours=1, minutes=30)


def test_a_feed_has_name_refresh_interval_and_keeps_cancelled_events() -> None:
    start = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    entries = [
        entry(visit_uid(1, HOST), start, minutes=180, sequence=0),
        entry(visit_uid(2, HOST), start + timedelta(days=1), minutes=180, sequence=4, cancelled=True),
    ]
    ics = feed(entries, "Bus France Services - Crocq", stamp=STAMP, refresh=timedelta(hours=6))
    calendar = Calendar.from_ical(ics)
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["X-WR-CALNAME"] == "Bus France Services - Crocq"
    refresh = calendar["REFRESH-INTERVAL"]
    assert refresh.params["VALUE"] == "DURATION"
    assert refresh.dt == timedelta(hours=6)
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT6H" in ics
    assert b"X-PUBLISHED-TTL:PT6H" in ics
    statuses = {e["UID"]: (e["STATUS"], e["SEQUENCE"]) for e in calendar.events}
    assert statuses == {
        "visit-1@rdv.example.fr": ("CONFIRMED", 0),
        "visit-2@rdv.example.fr": ("CANCELLED", 4),
    }


def test_the_same_feed_renders_to_the_same_bytes_so_etags_hold() -> None:
    start = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    modified = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    entries = [entry(visit_uid(1, HOST), start, last_modified=modified)]
    first = feed(entries, "Crocq", stamp=STAMP)
    later = feed(entries, "Crocq", stamp=STAMP + timedelta(hours=5))
    assert first == later
    assert etag(first) == etag(later)
    changed = feed([entry(visit_uid(1, HOST), start, sequence=1, last_modified=modified)], "Crocq", stamp=STAMP)
    assert etag(changed) != etag(first)
    assert etag(first).startswith('"') and etag(first).endswith('"')


def test_an_empty_feed_is_still_a_valid_calendar() -> None:
    calendar = Calendar.from_ical(feed([], "Crocq", stamp=STAMP))
    assert calendar.events == [] and calendar.timezones == []
    assert calendar["X-WR-CALNAME"] == "Crocq"


def test_entries_refuse_naive_times_and_backwards_events() -> None:
    with pytest.raises(ValueError, match="aware"):
        entry("x@h", datetime(2026, 1, 1, 10, 0))
    with pytest.raises(ValueError, match="after"):
        entry("x@h", datetime(2026, 1, 1, 10, 0, tzinfo=UTC), minutes=0)
    with pytest.raises(ValueError, match="sequence"):
        entry("x@h", datetime(2026, 1, 1, 10, 0, tzinfo=UTC), sequence=-1)
    with pytest.raises(ValueError):
        feed([], "x", stamp=datetime(2026, 1, 1), refresh=timedelta(hours=1))


def test_booking_entry_writes_french_text_from_templates() -> None:
    start = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)
    made = booking_entry(
        booking_id=42,
        host=HOST,
        start=start,
        end=start + timedelta(minutes=30),
        service="Impôts",
        site="Salle des fêtes",
        commune="Châtel-Guyon",
        sequence=2,
        bring="Avis d'imposition",
        link="https://rdv.example.fr/r/abc",
    )
    assert made.uid == "booking-42@rdv.example.fr"
    assert made.summary == "RDV Impôts à Châtel-Guyon"
    assert made.location == "Salle des fêtes, Châtel-Guyon"
    assert "Le mardi 8 décembre 2026, de 14h30 à 15h" in made.description
    assert "À apporter : Avis d'imposition" in made.description
    assert made.url == "https://rdv.example.fr/r/abc"
    [event] = Calendar.from_ical(booking_event(made, stamp=STAMP)).events
    assert event["DESCRIPTION"] == made.description
    assert event["URL"] == made.url


def test_cancelled_entries_say_so_in_french() -> None:
    start = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    made = visit_entry(
        visit_id=7,
        host=HOST,
        start=start,
        end=start + timedelta(hours=3),
        site="Mairie",
        commune="Crocq",
        sequence=5,
        cancelled=True,
        services=["CAF", "CPAM"],
        booking_hint="envoyez RDV au 09 39 00 00 00",
    )
    assert made.summary.startswith("ANNULÉ - ")
    assert made.description.startswith("Ce passage est annulé.")
    assert "Services : CAF, CPAM" in made.description
    [event] = Calendar.from_ical(feed([made], "Crocq", stamp=STAMP)).events
    assert event["STATUS"] == "CANCELLED"


def test_a_feed_is_byte_for_byte_what_icalendar_writes_for_the_same_calendar() -> None:
    """Feeds splice cached event bytes: the result must be icalendar's own serialisation."""
    from notifications.ical import _calendar

    entries = [
        entry(visit_uid(i, HOST), datetime(2026, 3, 20 + i, 8, 0, tzinfo=UTC), 180,
              description="Ligne longue " * 12, geo=(46.17, 1.87), sequence=i, cancelled=i == 2,
              last_modified=STAMP if i % 2 else None)
        for i in range(4)
    ]  # fmt: skip
    expected = _calendar(entries, stamp=STAMP, tz="Europe/Paris", prodid="-//mobile-services//notifications//FR",
                         name="Bus France Services — Crocq", refresh=timedelta(hours=12)).to_ical()  # fmt: skip
    assert feed(entries, "Bus France Services — Crocq", stamp=STAMP) == expected
    assert feed(entries, "Bus France Services — Crocq", stamp=STAMP) == expected  # served again from the cache
    assert feed([], "Vide", stamp=STAMP).count(b"BEGIN:VTIMEZONE") == 0


def test_a_booking_event_carries_a_display_alarm_unless_cancelled() -> None:
    start = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)
    [event] = Calendar.from_ical(booking_event(entry("b-1@h", start, alarm_before=timedelta(hours=1)), stamp=STAMP)).events
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == -timedelta(hours=1) and str(alarm["ACTION"]) == "DISPLAY"
    [cancelled] = Calendar.from_ical(
        booking_event(entry("b-1@h", start, alarm_before=timedelta(hours=1), cancelled=True), stamp=STAMP)
    ).events
    assert cancelled.walk("VALARM") == []
