"""Reminder times: Paris wall-clock across DST, quiet hours, nothing after the appointment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from scheduler.timing import MessagingRules, in_quiet_hours, next_allowed, reminders, validity_seconds

PARIS = ZoneInfo("Europe/Paris")
RULES = MessagingRules(tz=PARIS)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_day_before_reminder_is_at_18h_paris_in_winter_and_summer() -> None:
    winter = reminders(paris(2026, 12, 8, 10, 0), paris(2026, 12, 1, 9, 0), RULES)
    summer = reminders(paris(2026, 7, 8, 10, 0), paris(2026, 7, 1, 9, 0), RULES)
    assert winter[0].due_at.astimezone(PARIS).hour == 18
    assert summer[0].due_at.astimezone(PARIS).hour == 18
    assert winter[0].due_at.astimezone(UTC).hour == 17
    assert summer[0].due_at.astimezone(UTC).hour == 16


def test_reminders_across_the_spring_dst_change() -> None:
    # Appointment Monday 30 March 2026 at 10:00; clocks went forward on Sunday 29.
    result = reminders(paris(2026, 3, 30, 10, 0), paris(2026, 3, 20, 9, 0), RULES)
    by_kind = {r.kind: r.due_at.astimezone(PARIS) for r in result}
    assert by_kind["reminder_day_before"] == paris(2026, 3, 29, 18, 0)
    assert by_kind["reminder_hours_before"] == paris(2026, 3, 30, 8, 0)


def test_reminders_across_the_autumn_dst_change() -> None:
    # Appointment Monday 26 October 2026 at 09:30; clocks went back on Sunday 25.
    result = reminders(paris(2026, 10, 26, 9, 30), paris(2026, 10, 20, 9, 0), RULES)
    by_kind = {r.kind: r.due_at.astimezone(PARIS) for r in result}
    assert by_kind["reminder_day_before"] == paris(2026, 10, 25, 18, 0)
    # 07:30 is in quiet hours: moved to 08:00, still before the appointment.
    assert by_kind["reminder_hours_before"] == paris(2026, 10, 26, 8, 0)


def test_early_appointment_drops_the_second_reminder_rather_than_send_at_night() -> None:
    result = reminders(paris(2026, 12, 8, 8, 30), paris(2026, 12, 1, 9, 0), RULES)
    kinds = [r.kind for r in result]
    assert kinds == ["reminder_day_before", "reminder_hours_before"]
    assert result[1].due_at.astimezone(PARIS) == paris(2026, 12, 8, 8, 0)
    very_early = reminders(paris(2026, 12, 8, 8, 0), paris(2026, 12, 1, 9, 0), RULES)
    assert [r.kind for r in very_early] == ["reminder_day_before"]


def test_booking_made_after_18h_the_day_before_gets_no_day_before_reminder() -> None:
    result = reminders(paris(2026, 12, 8, 14, 0), paris(2026, 12, 7, 19, 0), RULES)
    assert [r.kind for r in result] == ["reminder_hours_before"]


def test_quiet_hours_wrap_midnight() -> None:
    assert in_quiet_hours(paris(2026, 12, 1, 23, 0), RULES)
    assert in_quiet_hours(paris(2026, 12, 1, 7, 59), RULES)
    assert not in_quiet_hours(paris(2026, 12, 1, 8, 0), RULES)
    assert next_allowed(paris(2026, 12, 1, 21, 0), RULES) == paris(2026, 12, 2, 8, 0)
    assert next_allowed(paris(2026, 12, 1, 3, 0), RULES) == paris(2026, 12, 1, 8, 0)


def test_validity_never_outlives_the_appointment() -> None:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert validity_seconds(now, now + timedelta(minutes=30)) == 1800
    assert validity_seconds(now, now + timedelta(days=3)) == 36_000
    assert validity_seconds(now, now - timedelta(minutes=1)) == 1


@given(
    appointment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    lead=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=20)),
)
def test_every_reminder_is_after_now_before_the_appointment_and_outside_quiet_hours(
    appointment: datetime, lead: timedelta
) -> None:
    now = appointment - lead
    for reminder in reminders(appointment, now, RULES):
        assert now < reminder.due_at < reminder.expires_at <= appointment
        assert not in_quiet_hours(reminder.due_at, RULES)
        expected_expiry = appointment - RULES.min_lead if reminder.kind == "reminder_hours_before" else appointment
        assert reminder.expires_at == expected_expiry
