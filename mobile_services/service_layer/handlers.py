"""Handler tables: which function handles which command or event.

Handlers are plain functions ``handler(message, *, uow, clock, ...)``; the bus injects
what they name. Feature modules (planning, booking, messaging) define handlers next to
their logic; this module only assembles the tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from mobile_services.domain import commands, events
from mobile_services.domain.messages import Command, Event
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage.tables import EventLog
from notifications.ports import Clock


def record_in_journal(event: Event, *, uow: UnitOfWork, clock: Clock) -> None:
    """Keep every event in the journal: coordinators see what happened and why."""
    with uow:
        uow.session.add(
            EventLog(name=type(event).__name__, payload=_jsonable(dataclasses.asdict(event)), occurred_at=clock.now())
        )
        uow.commit()


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v) for k, v in payload.items()}


def command_handlers() -> dict[type[Command], Callable[..., Any]]:
    from mobile_services import conversation
    from mobile_services.service_layer import booking, delivery, dispatch, holds, planning, publishing, retention

    return {
        commands.AnonymiseInactiveResidents: retention.anonymise_inactive_residents,
        commands.ReceiveSms: conversation.handle_incoming_sms,
        commands.RecordDeliveryStatus: delivery.record_delivery_status,
        commands.PlanWeek: planning.plan_week,
        commands.PublishPlan: publishing.publish_plan,
        commands.BookSlot: booking.book_slot,
        commands.CancelBooking: booking.cancel_booking,
        commands.TakeHeldSeat: holds.handle_take_held_seat,
        commands.JoinWaitlist: booking.add_to_waitlist,
        commands.SetOptOut: booking.change_opt_out,
        commands.DispatchDueMessages: dispatch.dispatch_due_messages,
        commands.ReconcileUnknownMessages: delivery.reconcile_unknown_messages,
    }


def event_handlers() -> dict[type[Event], list[Callable[..., Any]]]:
    from mobile_services.service_layer import waitlist

    table: dict[type[Event], list[Callable[..., Any]]] = {
        events.PlanDrafted: [],
        # Waiting residents are told of new stops by the publication itself (same transaction).
        events.PlanPublished: [],
        events.SlotBooked: [],
        events.BookingCancelled: [waitlist.offer_freed_seat],
        events.JoinedWaitlist: [],
        events.ResidentOptedOut: [],
        events.ResidentUnreachable: [],
    }
    for handlers in table.values():
        handlers.insert(0, record_in_journal)
    return table
