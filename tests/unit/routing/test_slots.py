"""Slots of a stop, and CP-SAT re-assignment of bookings when a stop moves."""

from __future__ import annotations

import pytest

from routing.slots import Booking, ServiceSpec, Slot, SlotError, Workshop, make_slots, reassign_bookings

CAF = ServiceSpec(code="caf", duration=30)
ANTS = ServiceSpec(code="ants", duration=45, skill="ants")


def test_slots_cover_every_desk_without_overlap() -> None:
    slots = make_slots(540, 720, desks=2, services=[CAF, ANTS])

    for desk in (0, 1):
        mine = sorted((s for s in slots if s.desk == desk), key=lambda s: s.start)
        assert mine[0].start == 540 and mine[-1].end == 720
        assert all(a.end == b.start for a, b in zip(mine, mine[1:]))


def test_walk_in_share_is_kept_free_and_spread() -> None:
    slots = make_slots(540, 720, desks=2, services=[CAF], walk_in_share=0.25)

    walk_in = sum(s.end - s.start for s in slots if s.walk_in)
    assert walk_in == pytest.approx(0.25 * 360, abs=30)
    assert all(s.service_code is None for s in slots if s.walk_in)
    first_walk_in = min(s.start for s in slots if s.walk_in)
    assert first_walk_in < 720 - 60, "walk-in time is spread, not lumped at the end"


def test_services_get_slots_of_their_own_duration_in_proportion() -> None:
    heavy = ServiceSpec(code="caf", duration=30, weight=3)
    light = ServiceSpec(code="cpam", duration=30, weight=1)

    slots = make_slots(480, 720, desks=2, services=[heavy, light], walk_in_share=0)

    counts = {code: sum(1 for s in slots if s.service_code == code) for code in ("caf", "cpam")}
    assert counts == {"caf": 12, "cpam": 4}
    assert all(s.end - s.start == 30 for s in slots)


def test_services_needing_a_missing_skill_get_no_slot() -> None:
    slots = make_slots(540, 720, desks=1, services=[CAF, ANTS], crew_skills={"caf"})

    assert {s.service_code for s in slots} <= {"caf", None}


def test_group_workshop_takes_one_desk_with_its_capacity() -> None:
    slots = make_slots(540, 720, desks=2, services=[CAF], workshop=Workshop(code="smartphone", duration=60, capacity=8))

    (ws,) = [s for s in slots if s.service_code == "smartphone"]
    assert (ws.start, ws.end, ws.capacity, ws.desk) == (660, 720, 8, 1)
    assert not any(s.desk == 1 and s.start < 720 and s.end > 660 and s is not ws for s in slots)


def test_all_walk_in_when_share_is_one() -> None:
    assert all(s.walk_in for s in make_slots(540, 600, desks=1, services=[CAF], walk_in_share=1.0))


def test_bad_slot_input_raises_slot_error() -> None:
    with pytest.raises(SlotError):
        make_slots(600, 540, desks=1, services=[CAF])
    with pytest.raises(SlotError):
        make_slots(540, 600, desks=0, services=[CAF])


def _slot(start: int, code: str | None = "caf", capacity: int = 1, skills: frozenset[str] = frozenset()) -> Slot:
    return Slot(start=start, end=start + 30, service_code=code, capacity=capacity, walk_in=code is None, desk=0, skills=skills)


def test_reassignment_keeps_every_booking_when_capacity_allows_and_shifts_least() -> None:
    bookings = [Booking(id=1, service_code="caf", start=540), Booking(id=2, service_code="caf", start=570)]
    new = [_slot(600), _slot(630), _slot(660)]

    result = reassign_bookings(bookings, new)

    assert result.lost == () and result.optimal
    assert [(k.booking_id, k.slot_index, k.shift_min) for k in result.kept] == [(1, 0, 60), (2, 1, 60)]


def test_reassignment_respects_capacity_service_and_skill() -> None:
    bookings = [
        Booking(id=1, service_code="caf", start=540),
        Booking(id=2, service_code="caf", start=540),
        Booking(id=3, service_code="ants", start=540, skill="ants"),
        Booking(id=4, service_code="cpam", start=540),
    ]
    new = [_slot(540, capacity=1), _slot(570, code="ants", skills=frozenset({"caf"})), _slot(600, code=None)]

    result = reassign_bookings(bookings, new)

    assert len(result.kept) == 1 and result.kept[0].slot_index == 0
    assert set(result.lost) == {2, 3, 4} or set(result.lost) == {1, 3, 4}


def test_reassignment_prefers_keeping_more_over_shifting_less() -> None:
    bookings = [Booking(id=1, service_code="caf", start=540), Booking(id=2, service_code="caf", start=600)]
    new = [_slot(600), _slot(900)]

    result = reassign_bookings(bookings, new)

    assert result.lost == ()
    assert {k.booking_id: k.slot_index for k in result.kept} == {1: 0, 2: 1}


def test_reassignment_honours_a_maximum_shift() -> None:
    bookings = [Booking(id=1, service_code="caf", start=540)]

    result = reassign_bookings(bookings, [_slot(540 + 180)], max_shift_min=120)

    assert result.kept == () and result.lost == (1,)


def test_group_slot_takes_several_bookings() -> None:
    bookings = [Booking(id=i, service_code="smartphone", start=660) for i in range(5)]

    result = reassign_bookings(bookings, [_slot(700, code="smartphone", capacity=4)])

    assert len(result.kept) == 4 and len(result.lost) == 1
