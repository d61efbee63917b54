"""What a new version of a week does to its stops, as the publish diff and the week's changes show it."""

from __future__ import annotations

from datetime import UTC, datetime

from mobile_services.service_layer.publishing import _stop_changes


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_an_untouched_stop_of_another_day_is_kept_not_moved_and_removed() -> None:
    # A bourg's full Monday and its Thursday morning; the new version keeps Thursday as it
    # was, moves Monday morning a little and drops Monday afternoon.
    monday_am = (7, "Bourac", "Salle des fêtes", _at(7, 9, 15), _at(7, 12, 15))
    monday_pm = (7, "Bourac", "Salle des fêtes", _at(7, 13, 0), _at(7, 16, 0))
    thursday = (7, "Bourac", "Salle des fêtes", _at(10, 9, 10), _at(10, 12, 10))
    earlier_monday = (7, "Bourac", "Salle des fêtes", _at(7, 8, 51), _at(7, 11, 51))

    kept, added, moved, removed = _stop_changes([monday_am, monday_pm, thursday], [earlier_monday, thursday])

    assert kept == 1 and added == []
    assert [(c.before, c.after) for c in moved] == [((monday_am[3], monday_am[4]), (earlier_monday[3], earlier_monday[4]))]
    assert [c.before for c in removed] == [(monday_pm[3], monday_pm[4])]


def test_a_stop_moved_to_another_day_is_one_move() -> None:
    tuesday = (3, "Ajain", "Mairie", _at(8, 13, 0), _at(8, 16, 0))
    friday = (3, "Ajain", "Mairie", _at(11, 9, 0), _at(11, 12, 0))

    kept, added, moved, removed = _stop_changes([tuesday], [friday])

    assert (kept, added, removed) == (0, [], [])
    assert [(c.before, c.after) for c in moved] == [((tuesday[3], tuesday[4]), (friday[3], friday[4]))]
