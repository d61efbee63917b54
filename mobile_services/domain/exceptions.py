"""Errors the application expects and explains.

Each carries an English message (for logs) and a French one (for the coordinator,
resident or driver who reads it). The CLI and the web layer show ``french()``.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected failure with a message people can act on."""

    def __init__(self, english: str, french: str | None = None) -> None:
        super().__init__(english)
        self._french = french or english

    def french(self) -> str:
        return self._french


class NotFound(UserFacingError):
    """A named thing (territory, week, slot...) does not exist."""


class InvalidInput(UserFacingError):
    """Input that breaks a documented rule (bad week, bad file, bad phone number)."""


class PlanningError(UserFacingError):
    """The week cannot be planned as asked (no vehicle, holiday week, impossible pin)."""


class BookingRefused(UserFacingError):
    """A booking rule says no: slot full, too late, already booked, opted out."""


class StatusCallbackRefused(UserFacingError):
    """A delivery status for a message we never sent, or sent with another SID: not applied."""
