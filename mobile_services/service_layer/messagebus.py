"""The message bus: routes commands and events to plain handler functions.

Dependencies are injected by parameter name: a handler declaring ``uow`` gets a
fresh :class:`UnitOfWork` for that message; one declaring ``sms``, ``clock`` or
``settings`` gets the adapter wired in :func:`mobile_services.bootstrap.bootstrap`.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from mobile_services.domain.messages import Command, Event
from mobile_services.service_layer.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]
HANDLED_KEPT = 1000


class MessageBus:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        command_handlers: Mapping[type[Command], Handler],
        event_handlers: Mapping[type[Event], Sequence[Handler]],
        dependencies: Mapping[str, Any],
    ) -> None:
        self.uow_factory = uow_factory
        self.command_handlers = dict(command_handlers)
        self.event_handlers = {k: list(v) for k, v in event_handlers.items()}
        self.dependencies = dict(dependencies)
        #: The latest messages handled, for tests and debugging; bounded, since a web
        #: worker handles every SMS of a territory through one bus for weeks.
        self.handled: deque[Command | Event] = deque(maxlen=HANDLED_KEPT)

    def handle(self, message: Command | Event) -> Any:
        """Handle a message and every event it leads to; return the command's result."""
        queue: list[Command | Event] = [message]
        result: Any = None
        first = True
        while queue:
            current = queue.pop(0)
            if isinstance(current, Command):
                value, produced = self._handle_command(current)
                if first:
                    result = value
            elif isinstance(current, Event):
                produced = self._handle_event(current)
            else:
                raise TypeError(f"{current!r} is neither a Command nor an Event")
            first = False
            self.handled.append(current)
            queue.extend(produced)
        return result

    def _handle_command(self, command: Command) -> tuple[Any, list[Event]]:
        handler = self.command_handlers.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for command {type(command).__name__}")
        logger.debug("handling command %s", type(command).__name__)
        uow = self.uow_factory()
        value = self._call(handler, command, uow)
        return value, uow.collect_new_events()

    def _handle_event(self, event: Event) -> list[Event]:
        produced: list[Event] = []
        for handler in self.event_handlers.get(type(event), []):
            uow = self.uow_factory()
            try:
                self._call(handler, event, uow)
            except Exception:
                logger.exception("handler %s failed on %s", handler.__name__, type(event).__name__)
                continue
            produced.extend(uow.collect_new_events())
        return produced

    def _call(self, handler: Handler, message: Command | Event, uow: UnitOfWork) -> Any:
        available = {"uow": uow, "bus": self, **self.dependencies}
        parameters = _parameters(handler)
        missing = [p.name for p in parameters if p.name not in available and p.default is inspect.Parameter.empty]
        if missing:
            raise LookupError(f"handler {handler.__name__} needs unknown dependencies {missing}")
        return handler(message, **{p.name: available[p.name] for p in parameters if p.name in available})


@cache
def _parameters(handler: Handler) -> list[inspect.Parameter]:
    """A handler's dependency parameters (all but the message), read once per handler."""
    return list(inspect.signature(handler).parameters.values())[1:]
