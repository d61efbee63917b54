"""From a stop to bookable slots, and keeping bookings when a stop moves.

:func:`make_slots` cuts a stop ``[start, end]`` into appointment slots per desk: each
service gets slots of its own duration in proportion to its weight, a share of desk time
stays free for walk-ins (most visitors of a bus simply walk in), and an optional group
workshop takes one desk with a seat capacity. Times are minutes (week-minutes in
practice); the function is pure and deterministic, so re-publishing a plan gives the
same slots.

:func:`reassign_bookings` uses CP-SAT when a stop moves or shrinks: keep as many
bookings as possible, then move them as little as possible, within slot capacities and
service/skill matches. Bookings that cannot be kept are returned so the app can tell the
residents and offer the waiting list.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model


class SlotError(ValueError):
    """Slot or booking input is malformed."""


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """An individual service offered at a stop: one resident per slot of ``duration`` minutes.

    ``weight`` is its share of the bookable desk time relative to other services;
    ``skill`` is what a counsellor needs to provide it.
    """

    code: str
    duration: int = 30
    skill: str | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.code:
            raise SlotError("a service needs a code")
        if self.duration <= 0:
            raise SlotError(f"service {self.code}: duration must be > 0")
        if not self.weight > 0 or not math.isfinite(self.weight):
            raise SlotError(f"service {self.code}: weight must be > 0")


@dataclass(frozen=True, kw_only=True)
class Workshop:
    """A group session (e.g. "smartphone basics") taking one desk for ``duration`` minutes."""

    code: str
    duration: int
    capacity: int
    at_start: bool = False
    skill: str | None = None

    def __post_init__(self) -> None:
        if self.duration <= 0 or self.capacity <= 0:
            raise SlotError(f"workshop {self.code}: duration and capacity must be > 0")


@dataclass(frozen=True, kw_only=True)
class Slot:
    """A bookable (or walk-in) period at one desk.

    ``service_code`` is None for walk-in time, which is not bookable. ``skills`` are the
    crew skills available at the stop (used to check bookings when re-assigning).
    """

    start: int
    end: int
    service_code: str | None
    capacity: int
    walk_in: bool
    desk: int
    skills: frozenset[str] = frozenset()


def make_slots(
    start: int,
    end: int,
    *,
    desks: int,
    services: Sequence[ServiceSpec],
    walk_in_share: float = 0.25,
    walk_in_slot: int = 30,
    workshop: Workshop | None = None,
    crew_skills: Iterable[str] | None = None,
) -> tuple[Slot, ...]:
    """Slots of a stop, sorted by start then desk.

    Desks are filled in time order (the desk free earliest takes the next slot), so at
    any moment different services are on offer. Walk-in time is spread through the stop
    rather than lumped at the end: whenever the walk-in minutes fall behind
    ``walk_in_share`` of the desk time used so far, the next slot is a walk-in one.
    Services are picked by smooth weighted round-robin among those whose duration still
    fits; the remainder of a desk that fits no service becomes walk-in time. Services
    needing a skill the crew lacks (``crew_skills`` given) get no slots.
    """
    if end <= start:
        raise SlotError(f"stop must end after it starts ({start}-{end})")
    if desks < 1:
        raise SlotError("a stop needs at least one desk")
    if not 0.0 <= walk_in_share <= 1.0:
        raise SlotError("walk_in_share must be in 0..1")
    if walk_in_slot <= 0:
        raise SlotError("walk_in_slot must be > 0")
    skills = frozenset(crew_skills) if crew_skills is not None else frozenset()
    offered = [s for s in services if crew_skills is None or s.skill is None or s.skill in skills]
    codes = [s.code for s in offered]
    if len(set(codes)) != len(codes):
        raise SlotError("service codes must be unique")
    slots: list[Slot] = []
    free = {desk: (start, end) for desk in range(desks)}
    if workshop is not None and (crew_skills is None or workshop.skill is None or workshop.skill in skills):
        if workshop.duration > end - start:
            raise SlotError(f"workshop {workshop.code} is longer than the stop")
        desk = desks - 1
        w0 = start if workshop.at_start else end - workshop.duration
        slots.append(
            Slot(start=w0, end=w0 + workshop.duration, service_code=workshop.code, capacity=workshop.capacity, walk_in=False, desk=desk, skills=skills)
        )
        free[desk] = (start + workshop.duration, end) if workshop.at_start else (start, end - workshop.duration)

    current = {s.code: 0.0 for s in offered}
    total_weight = sum(s.weight for s in offered)
    used = 0
    walk_in = 0
    queue = [(t0, desk) for desk, (t0, t1) in free.items() if t1 > t0]
    heapq.heapify(queue)
    while queue:
        t, desk = heapq.heappop(queue)
        limit = free[desk][1]
        remaining = limit - t
        fitting = [s for s in offered if s.duration <= remaining]
        step = min(walk_in_slot, remaining)
        if not fitting or walk_in + step <= walk_in_share * (used + step) + 1e-9:
            slot = Slot(start=t, end=t + step, service_code=None, capacity=1, walk_in=True, desk=desk, skills=skills)
            walk_in += step
        else:
            for s in offered:
                current[s.code] += s.weight
            chosen = max(fitting, key=lambda s: (current[s.code], -codes.index(s.code)))
            current[chosen.code] -= total_weight
            slot = Slot(start=t, end=t + chosen.duration, service_code=chosen.code, capacity=1, walk_in=False, desk=desk, skills=skills)
        used += slot.end - slot.start
        slots.append(slot)
        if slot.end < limit:
            heapq.heappush(queue, (slot.end, desk))
    return tuple(sorted(slots, key=lambda s: (s.start, s.desk)))


@dataclass(frozen=True, kw_only=True)
class Booking:
    """A resident's booking in an old slot: its service, the skill it needs, when it was."""

    id: int
    service_code: str
    start: int
    skill: str | None = None


@dataclass(frozen=True, kw_only=True)
class KeptBooking:
    """A booking moved into ``new_slots[slot_index]``; ``shift_min`` = new start - old start."""

    booking_id: int
    slot_index: int
    shift_min: int


@dataclass(frozen=True, kw_only=True)
class Reassignment:
    """Outcome of :func:`reassign_bookings`; ``optimal`` is False if CP-SAT hit its time limit."""

    kept: tuple[KeptBooking, ...]
    lost: tuple[int, ...]
    optimal: bool


def reassign_bookings(
    bookings: Sequence[Booking],
    new_slots: Sequence[Slot],
    *,
    max_shift_min: int | None = None,
    time_limit_s: float = 5.0,
    seed: int = 0,
) -> Reassignment:
    """Put ``bookings`` into ``new_slots``: keep the most, then move them the least.

    A booking fits a slot when the slot is bookable (not walk-in), has the same service
    code, offers the booking's skill (if the slot lists skills), and — when
    ``max_shift_min`` is given — starts at most that many minutes from the old start.
    Keeping is lexicographically first: each kept booking is worth more than any total of
    shifts (weight ``K = n * M + 1`` with ``M`` the largest possible shift).
    """
    ids = [b.id for b in bookings]
    if len(set(ids)) != len(ids):
        raise SlotError("booking ids must be unique")
    pairs: dict[tuple[int, int], int] = {}
    for bi, b in enumerate(bookings):
        for si, s in enumerate(new_slots):
            if s.walk_in or s.service_code != b.service_code or s.capacity <= 0:
                continue
            if b.skill is not None and s.skills and b.skill not in s.skills:
                continue
            shift = abs(s.start - b.start)
            if max_shift_min is not None and shift > max_shift_min:
                continue
            pairs[(bi, si)] = shift
    if not pairs:
        return Reassignment(kept=(), lost=tuple(sorted(ids)), optimal=True)
    model = cp_model.CpModel()
    x = {p: model.new_bool_var(f"x_{p[0]}_{p[1]}") for p in pairs}
    for bi in range(len(bookings)):
        mine = [x[p] for p in pairs if p[0] == bi]
        if len(mine) > 1:
            model.add_at_most_one(mine)
    for si, s in enumerate(new_slots):
        theirs = [x[p] for p in pairs if p[1] == si]
        if len(theirs) > s.capacity:
            model.add(sum(theirs) <= s.capacity)
    k = len(bookings) * max(pairs.values()) + 1
    model.maximize(sum((k - shift) * x[p] for p, shift in pairs.items()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Reassignment(kept=(), lost=tuple(sorted(ids)), optimal=False)
    kept = []
    for (bi, si), var in x.items():
        if solver.value(var):
            b = bookings[bi]
            kept.append(KeptBooking(booking_id=b.id, slot_index=si, shift_min=new_slots[si].start - b.start))
    kept_ids = {kb.booking_id for kb in kept}
    return Reassignment(
        kept=tuple(sorted(kept, key=lambda kb: kb.booking_id)),
        lost=tuple(sorted(i for i in ids if i not in kept_ids)),
        optimal=status == cp_model.OPTIMAL,
    )
