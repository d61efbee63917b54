"""Base classes of what goes through the message bus.

Commands are imperative (``PlanWeek``) and have exactly one handler whose error
propagates to the caller. Events are past tense (``PlanPublished``), may have many
handlers, and one failing handler does not stop the others (STYLE.md item 1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Command:
    """Something someone asks the system to do."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened; handlers react to it."""
