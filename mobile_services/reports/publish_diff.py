"""What a publication changes, in the coordinator's French: one place for the CLI and the week's changes.

``publish`` shows it before asking for confirmation; an automatic re-planning after a
disruption stores it (``week changes``). Both read the same lines.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from mobile_services.service_layer.publishing import BookingChange, PublishDiff, StopChange

DAY_NAMES = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
SMS_KINDS_FR = {
    "stop_moved": "RDV déplacé",
    "stop_cancelled": "RDV annulé",
    "hold_moved": "place gardée changée",
    "hold_withdrawn": "place gardée retirée",
    "waitlist_offer": "nouvel arrêt pour la liste d'attente",
    "waitlist_stop_cancelled": "arrêt annoncé à la liste d'attente annulé",
    "staff_day_changed": "tournée modifiée (équipes)",
}


def _when(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{DAY_NAMES[local.weekday()]} {local:%d/%m %H:%M}"


def _span(span: tuple[datetime, datetime], tz: ZoneInfo) -> str:
    return f"{_when(span[0], tz)}-{span[1].astimezone(tz):%H:%M}"


def _then(before: datetime, after: datetime, tz: ZoneInfo) -> str:
    """The new time, without the day when it stays the same day."""
    if before.astimezone(tz).date() == after.astimezone(tz).date():
        return f"{after.astimezone(tz):%H:%M}"
    return _when(after, tz)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def header(diff: PublishDiff, week: str) -> str:
    replaces = f" (remplace la v{diff.previous_version})" if diff.previous_version is not None else ""
    return f"Publication de {week} v{diff.version}{replaces}"


def sections(diff: PublishDiff, tz: ZoneInfo) -> list[tuple[str, list[str]]]:
    """(summary line, detail lines) for stops, bookings, held seats and SMS."""

    def stop(change: StopChange) -> str:
        place = f"{change.commune} ({change.site})"
        if change.before and change.after:
            after = f"{_then(change.before[0], change.after[0], tz)}-{change.after[1].astimezone(tz):%H:%M}"
            return f"~ {place} {_span(change.before, tz)} -> {after}"
        if change.after:
            return f"+ {place} {_span(change.after, tz)}"
        return f"- {place} {_span(change.before, tz)}"  # type: ignore[arg-type]

    def booking(change: BookingChange) -> str:
        if change.after is not None:
            return f"déplacé : {change.commune}, {_when(change.before, tz)} -> {_then(change.before, change.after, tz)}"
        instead = (
            f"place gardée : {change.held[1]}, {_when(change.held[0], tz)}" if change.held else "pas de place proche : liste d'attente"
        )
        return f"annulé : {change.commune}, {_when(change.before, tz)} ; {instead}"

    out = [
        (
            f"Arrêts : {plural(diff.stops_kept, 'inchangé')}, {plural(len(diff.stops_added), 'ajouté')}, "
            f"{plural(len(diff.stops_moved), 'déplacé')}, {plural(len(diff.stops_removed), 'supprimé')}",
            [stop(c) for c in (*diff.stops_added, *diff.stops_moved, *diff.stops_removed)],
        ),
        (
            f"Rendez-vous : {plural(diff.bookings_kept, 'gardé')}, {plural(len(diff.bookings_moved), 'déplacé')}, "
            f"{plural(len(diff.bookings_cancelled), 'annulé')}",
            [booking(c) for c in (*diff.bookings_moved, *diff.bookings_cancelled)],
        ),
    ]
    if diff.holds_kept or diff.holds_moved or diff.holds_withdrawn:
        out.append((
            f"Places gardées : {plural(diff.holds_kept, 'inchangée')}, {plural(diff.holds_moved, 'changée')}, "
            f"{plural(diff.holds_withdrawn, 'retirée')}",
            [],
        ))  # fmt: skip
    kinds = ", ".join(f"{count} {SMS_KINDS_FR.get(kind, kind)}" for kind, count in diff.sms_now.items())
    reminders = f" ; {plural(diff.reminders, 'rappel')} reprogrammé{'s' if diff.reminders > 1 else ''}" if diff.reminders else ""
    out.append((f"SMS à envoyer : {diff.sms_count}{f' ({kinds})' if kinds else ''}{reminders}", []))
    return out
