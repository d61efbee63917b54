"""Every event has a consequence (issue 19, point 6): the journal alone is not a reader.

An event only the journal reads is either given a handler that does something or
removed; this keeps it so when an event is added.
"""

from __future__ import annotations

import inspect

import pytest

from mobile_services.domain import events
from mobile_services.domain.messages import Event
from mobile_services.service_layer.handlers import event_handlers

EVENT_CLASSES = sorted(
    (cls for _, cls in inspect.getmembers(events, inspect.isclass) if issubclass(cls, Event) and cls is not Event),
    key=lambda cls: cls.__name__,
)


def test_the_events_module_is_read_whole() -> None:
    assert len(EVENT_CLASSES) >= 15
    assert {"PlanSuperseded", "HeldSeatDeclined", "HoldExpired", "SlotBooked", "JoinedWaitlist"} <= {
        cls.__name__ for cls in EVENT_CLASSES
    }


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda cls: cls.__name__)
def test_every_event_has_a_handler_besides_the_journal(event_class: type[Event]) -> None:
    assert event_handlers().get(event_class), f"{event_class.__name__} has no reader but the journal"


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda cls: cls.__name__)
def test_every_event_has_a_docstring_that_says_what_follows(event_class: type[Event]) -> None:
    assert event_class.__doc__ and not event_class.__doc__.startswith(f"{event_class.__name__}(")
