"""Handler tables: which function handles which command or event.

Handlers are plain functions ``handler(message, *, uow, clock, ...)``; the bus injects
what they name. Feature modules (planning, booking, messaging) define handlers next to
their logic; this module only assembles the tables. Every event is also journaled, by the
unit of work whose commit released it (:mod:`mobile_services.service_layer.unit_of_work`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mobile_services.domain import commands, events
from mobile_services.domain.messages import Command, Event


def command_handlers() -> dict[type[Command], Callable[..., Any]]:
    from mobile_services import conversation
    from mobile_services.service_layer import (
        access,
        attendance,
        booking,
        coordination,
        delivery,
        dispatch,
        disruptions,
        holds,
        itineraries,
        planning,
        publishing,
        retention,
        waitlist,
        web_codes,
    )

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
        commands.DeclareVehicleUnavailable: disruptions.declare_vehicle_unavailable,
        commands.DeclareCounsellorUnavailable: disruptions.declare_counsellor_unavailable,
        commands.BlockSite: disruptions.block_site,
        commands.CancelStop: disruptions.cancel_stop,
        commands.ReportDemand: disruptions.report_demand,
        commands.PassOnFreedSeats: waitlist.pass_on_freed_seats,
        commands.DraftNextWeek: coordination.draft_next_week,
        commands.SendDayItineraries: itineraries.send_day_itineraries,
        commands.ExpireWaitlistEntries: waitlist.expire_waitlist_entries,
        commands.RotateAccessToken: access.rotate_access_token,
        commands.RecordAttendance: attendance.record_attendance,
        commands.RecordWalkIns: attendance.record_walk_ins,
        commands.RequestWebCode: web_codes.request_web_code,
        commands.VerifyWebCode: web_codes.verify_web_code,
    }


def event_handlers() -> dict[type[Event], list[Callable[..., Any]]]:
    from mobile_services.service_layer import coordination, disruptions, holds, plan_pages, rebooking, waitlist

    table: dict[type[Event], list[Callable[..., Any]]] = {
        events.PlanDrafted: [plan_pages.write_page],
        # Waiting residents are told of new stops by the publication itself (same transaction).
        events.PlanPublished: [plan_pages.write_page],
        # what still points at the old version (dialogues, lapsed holds) follows the new one
        events.PlanSuperseded: [rebooking.follow_new_version],
        events.SlotBooked: [waitlist.settle_requests_served],
        events.BookingCancelled: [waitlist.offer_freed_seat],
        events.JoinedWaitlist: [coordination.tell_coordinator_of_waiting_demand],
        # a held seat let go or run out goes on to the next person waiting at once
        events.HeldSeatDeclined: [waitlist.pass_on_released_seat],
        events.HoldExpired: [holds.after_replacement_lapsed, waitlist.pass_on_released_seat],
        events.ResidentOptedOut: [waitlist.forget_unreachable],
        events.ResidentUnreachable: [waitlist.forget_unreachable],
        # each disruption re-plans the published days it touches
        events.VehicleDeclaredUnavailable: [disruptions.replan_touched_days],
        events.CounsellorDeclaredUnavailable: [disruptions.replan_touched_days],
        events.SiteBlocked: [disruptions.replan_touched_days],
        events.StopCancelled: [disruptions.replan_touched_days],
        events.DemandReported: [disruptions.replan_touched_days],
        events.WeekReplanned: [coordination.tell_coordinator_of_replan],
    }
    return table
