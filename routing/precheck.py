"""Explain-before-solve: which route-days exist, and where each candidate could start.

Everything the solver would only discover by failing is decided here, in plain Python,
so that the reason for leaving a candidate out is exact and cheap:

* a bus shift without crew is not a route-day (message);
* a candidate is matched against every route-day: the crew must have its skills, an
  opening window must hold the whole stop inside the shift, the stop must not swallow the
  whole lunch-break window, it must start after the re-plan point, and the site must be
  reachable from the route's start and back within the shift and the driving limit;
  finally the candidate's load must fit the route-day's capacity (a candidate heavier
  than every route-day that passes the other rules is ``OVER_CAPACITY``);
* pins and stops frozen by a re-plan are checked against the same rules.

The result, :class:`Preparation`, lists the *start intervals* (week-minutes) of each
solver node on each route-day it may use; :mod:`routing.model` turns them into cumul
domains and allowed vehicles. The app may also call :func:`prepare` on its own to show
the coordinator, before solving, which candidates cannot be served and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import itertools
from dataclasses import dataclass, field, replace

from routing.matrix import TravelMatrix
from routing.problem import (
    MINUTES_PER_DAY,
    Candidate,
    Problem,
    Resource,
    ResourceKind,
    Shift,
    TimeWindow,
    format_minute,
)
from routing.result import Unserved, UnservedReason

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, kw_only=True)
class RouteDay:
    """A shift that becomes a route (one OR-Tools vehicle); ``index`` is its vehicle number."""

    index: int
    shift: Shift
    resource: Resource
    skills: frozenset[str]
    crew_ids: tuple[int, ...]
    matrix: TravelMatrix
    day_length: int = MINUTES_PER_DAY

    @property
    def day(self) -> int:
        """Day index."""
        return self.shift.day

    @property
    def key(self) -> tuple[int, int]:
        """``(resource_id, day)``."""
        return self.shift.key

    @property
    def offset(self) -> int:
        """Week time at which the route's day starts (``day * day_length``)."""
        return self.shift.day * self.day_length

    @property
    def window(self) -> TimeWindow:
        """Shift window in week time."""
        return self.shift.week_window(self.day_length)

    @property
    def capacity(self) -> int | None:
        """Load the route-day can take (None: unlimited)."""
        return self.shift.capacity

    def holds(self, candidate: Candidate) -> bool:
        """True when one visit of ``candidate`` alone fits the capacity."""
        return self.capacity is None or candidate.load <= self.capacity

    def label(self) -> str:
        """``bus 3 on Tue`` for messages."""
        return f"{self.resource.kind.value} {self.resource.id} on {_DAYS[self.day]}"


@dataclass(frozen=True, kw_only=True)
class PastVisit:
    """A stop of a previous plan, as the re-planning needs it (from ``result.Visit``)."""

    candidate_id: int
    resource_id: int
    day: int
    start: int


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    """One solver node: a visit of a candidate, with where and when it may start.

    ``options`` maps route-day index to sorted, disjoint week-minute intervals of the
    service start. ``hard`` nodes (pinned, frozen, first visit of a mandatory candidate)
    must be served; ``prior`` is ``(route-day index or None, start)`` of the same visit in
    the previous plan.
    """

    candidate: Candidate
    visit_index: int
    options: dict[int, tuple[TimeWindow, ...]]
    pinned: bool = False
    frozen: bool = False
    mandatory: bool = False
    prior: tuple[int | None, int] | None = None

    @property
    def hard(self) -> bool:
        """Must be served (a failure is reported as an input contradiction)."""
        return self.pinned or self.frozen or self.mandatory


@dataclass(kw_only=True)
class Preparation:
    """Route-days, solver nodes, and what was already decided before solving."""

    route_days: tuple[RouteDay, ...]
    nodes: list[NodeSpec] = field(default_factory=list)
    unserved: list[Unserved] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    contradictions: bool = False


@dataclass(frozen=True)
class _Fit:
    """How far a candidate gets on one route-day, level by level (for exact reasons)."""

    opening: tuple[TimeWindow, ...]
    lunch: tuple[TimeWindow, ...]
    after_point: tuple[TimeWindow, ...]
    reachable: tuple[TimeWindow, ...]


def _intersect(a: Iterable[TimeWindow], lo: int, hi: int) -> tuple[TimeWindow, ...]:
    out = []
    for w in a:
        s, e = max(w.start, lo), min(w.end, hi)
        if s <= e:
            out.append(TimeWindow(s, e))
    return tuple(out)


def _fit(candidate: Candidate, rd: RouteDay, not_before: int | None) -> _Fit:
    """Start intervals of ``candidate`` on route-day ``rd``, after each successive rule."""
    offset = rd.offset
    s0, s1 = rd.window.start, rd.window.end
    dur = candidate.duration
    opening = _intersect(
        (w.shifted(offset) for w in candidate.site.opening.on(rd.day)), s0, s1
    )
    opening = tuple(TimeWindow(w.start, w.end - dur) for w in opening if w.end - dur >= w.start)
    lunch_ok: tuple[TimeWindow, ...] = opening
    brk = rd.shift.lunch
    if brk is not None:
        # The break cannot overlap the service: starts in (latest_start - dur, start + duration)
        # leave no room for it before or after the stop.
        bs, bl = offset + brk.window.start, offset + brk.latest_start
        cut_lo, cut_hi = bl - dur + 1, bs + brk.duration - 1
        if cut_lo <= cut_hi:
            lunch_ok = _intersect(opening, -1, cut_lo - 1) + _intersect(opening, cut_hi + 1, 10**9)
            lunch_ok = tuple(sorted(lunch_ok))
    after = lunch_ok if not_before is None else _intersect(lunch_ok, not_before, 10**9)
    site = candidate.site.location.id
    t_out = rd.matrix.minutes_between(rd.resource.start.id, site)
    t_back = rd.matrix.minutes_between(site, rd.resource.end_location.id)
    limit = rd.shift.max_driving
    if limit is not None and t_out + t_back > limit:
        reachable: tuple[TimeWindow, ...] = ()
    else:
        reachable = _intersect(after, s0 + t_out, s1 - t_back - dur)
    return _Fit(opening, lunch_ok, after, reachable)


def _reason(candidate: Candidate, fits: Sequence[tuple[RouteDay, _Fit]], not_before: int | None) -> Unserved:
    """Most specific reason why no route-day works, from the deepest rule any reached."""
    days = sorted({_DAYS[rd.day] for rd, _ in fits})
    if not any(f.opening for _, f in fits):
        detail = (
            f"needs {candidate.duration} min; no opening window of site {candidate.site.id} "
            f"holds it within a shift on the route days ({', '.join(days)})"
        )
        reason = UnservedReason.OUTSIDE_OPENING_HOURS
    elif not any(f.lunch for _, f in fits):
        detail = f"a {candidate.duration} min stop would leave no room for the lunch break on any route day"
        reason = UnservedReason.OUTSIDE_OPENING_HOURS
    elif not any(f.after_point for _, f in fits):
        detail = f"every opening window that fits is before the re-plan point {format_minute(not_before or 0)} of {_DAYS[(not_before or 0) // fits[0][0].day_length]}"
        reason = UnservedReason.OUTSIDE_OPENING_HOURS
    else:
        detail = (
            f"site {candidate.site.id} is too far: no route can get there, stay "
            f"{candidate.duration} min and come back within its shift and driving limit"
        )
        reason = UnservedReason.UNREACHABLE
    return Unserved(
        candidate_id=candidate.id, reason=reason, detail=detail, mandatory=candidate.mandatory, prize=candidate.prize
    )


def _over_capacity(candidate: Candidate, days: Sequence[RouteDay]) -> Unserved:
    """``OVER_CAPACITY`` for a candidate heavier than every route-day in ``days``."""
    largest = max(rd.capacity or 0 for rd in days)
    detail = (
        f"its load {candidate.load} exceeds the capacity of every route-day it could use "
        f"(largest: {largest}, {', '.join(rd.label() for rd in days[:3])}{', ...' if len(days) > 3 else ''})"
    )
    return Unserved(
        candidate_id=candidate.id,
        reason=UnservedReason.OVER_CAPACITY,
        detail=detail,
        mandatory=candidate.mandatory,
        prize=candidate.prize,
    )


def route_days(problem: Problem) -> tuple[tuple[RouteDay, ...], list[str]]:
    """Usable route-days in a stable order (day, resource), and messages for dropped ones."""
    resources = {r.id: r for r in problem.resources}
    out: list[RouteDay] = []
    messages: list[str] = []
    for shift in sorted(problem.shifts, key=lambda s: (s.day, s.resource_id)):
        resource = resources[shift.resource_id]
        if resource.kind is ResourceKind.BUS and shift.crew is None:
            messages.append(
                f"bus {resource.id} on {_DAYS[shift.day]} has no crew: that route-day was not created"
            )
            continue
        crew_skills = shift.crew.skills if shift.crew else frozenset()
        out.append(
            RouteDay(
                index=len(out),
                shift=shift,
                resource=resource,
                skills=resource.skills | crew_skills,
                crew_ids=shift.crew.counsellor_ids if shift.crew else (),
                matrix=problem.matrix(resource.kind),
                day_length=problem.day_length,
            )
        )
    return tuple(out), messages


def _pin_intervals(
    candidate: Candidate, rd: RouteDay | None, start: TimeWindow, what: str, not_before: int | None
) -> tuple[tuple[TimeWindow, ...], str]:
    """Start intervals honouring a pin (or frozen stop), or ``()`` and why not."""
    if rd is None:
        return (), f"{what}: that route-day does not exist (day removed, or a bus without crew)"
    missing = candidate.skills - rd.skills
    if missing:
        return (), f"{what}: the crew of {rd.label()} lacks {', '.join(sorted(missing))}"
    if not rd.holds(candidate):
        return (), f"{what}: its load {candidate.load} exceeds the capacity {rd.capacity} of {rd.label()}"
    fit = _fit(candidate, rd, not_before)
    when = f"{format_minute(start.start)}-{format_minute(start.end)}"
    if not _intersect(fit.opening, start.start, start.end):
        return (), f"{what}: a {candidate.duration} min stop starting {when} is outside the site's opening hours or the shift"
    if not _intersect(fit.lunch, start.start, start.end):
        return (), f"{what}: a stop starting {when} leaves no room for the lunch break"
    if not _intersect(fit.after_point, start.start, start.end):
        return (), f"{what}: starting {when} is before the re-plan point"
    reachable = _intersect(fit.reachable, start.start, start.end)
    if not reachable:
        return (), f"{what}: the site cannot be reached from the route's start (and back) for a start {when}"
    return reachable, ""


def prepare(
    problem: Problem,
    *,
    frozen: Sequence[PastVisit] = (),
    prior: Sequence[PastVisit] = (),
) -> Preparation:
    """Route-days, solver nodes and pre-solve explanations for ``problem``.

    ``frozen`` are stops already made (kept exactly); ``prior`` the other stops of the
    previous plan (only used to prefer keeping them where they were).
    """
    days, messages = route_days(problem)
    prep = Preparation(route_days=days, messages=messages)
    if not days:
        prep.contradictions = True
        prep.messages.append("no route-day is available: nothing can be planned")
        for c in problem.candidates:
            prep.unserved.append(
                Unserved(
                    candidate_id=c.id,
                    reason=UnservedReason.NO_ROUTE,
                    detail="there is no route-day this week (no resource, all days removed, or buses without crew)",
                    mandatory=c.mandatory,
                    prize=c.prize,
                )
            )
        return prep
    by_key = {rd.key: rd for rd in days}
    not_before = problem.frozen_before
    pins_of: dict[int, list[TimeWindow | None]] = {}
    frozen_of: dict[int, list[PastVisit]] = {}
    prior_of: dict[int, list[PastVisit]] = {}
    pin_targets: dict[int, list[tuple[int, int, TimeWindow]]] = {}
    for p in problem.pins:
        pin_targets.setdefault(p.candidate_id, []).append((p.resource_id, p.day, p.week_start(problem.day_length)))
        pins_of.setdefault(p.candidate_id, []).append(p.start)
    known = {c.id for c in problem.candidates}
    for v in frozen:
        if v.candidate_id not in known:
            prep.messages.append(f"stop of candidate {v.candidate_id} already made is not in the problem: ignored")
            continue
        frozen_of.setdefault(v.candidate_id, []).append(v)
    for v in prior:
        prior_of.setdefault(v.candidate_id, []).append(v)

    for c in problem.candidates:
        hard: list[NodeSpec] = []
        failure = ""
        hard_days: dict[int, int] = {}  # day -> the resource holding the candidate's hard stops
        for v in sorted(frozen_of.get(c.id, []), key=lambda v: v.start):
            rd = by_key.get((v.resource_id, v.day))
            intervals, why = _pin_intervals(
                c, rd, TimeWindow(v.start, v.start), f"the stop already made at {format_minute(v.start)}", None
            )
            if why:
                failure = why
                break
            assert rd is not None
            hard.append(NodeSpec(candidate=c, visit_index=len(hard), options={rd.index: intervals}, frozen=True, prior=(rd.index, v.start)))
            hard_days.setdefault(v.day, v.resource_id)
        for resource_id, day, start in pin_targets.get(c.id, []) if not failure else []:
            if any(
                h.frozen and h.prior is not None and days[next(iter(h.options))].key == (resource_id, day)
                and start.start <= h.prior[1] <= start.end
                for h in hard
            ):
                continue  # the pinned stop already happened and is frozen
            what = f"pin to resource {resource_id} on {_DAYS[day]}"
            if hard_days.get(day, resource_id) != resource_id:
                # a commune's stops of one day are one route-day's (a morning and an
                # afternoon there: two pins); on two routes the same day, never
                failure = f"{what}: the candidate is already pinned to resource {hard_days[day]} that day"
                break
            intervals, why = _pin_intervals(c, by_key.get((resource_id, day)), start, what, not_before)
            if why:
                failure = why
                break
            hard.append(NodeSpec(candidate=c, visit_index=len(hard), options={by_key[(resource_id, day)].index: intervals}, pinned=True))
            hard_days.setdefault(day, resource_id)
        if not failure and len(hard) > c.max_visits:
            failure = f"{len(hard)} pinned or frozen stops exceed max_visits={c.max_visits}"
        if failure:
            prep.contradictions = True
            prep.messages.append(f"candidate {c.id}: {failure}")
            prep.unserved.append(
                Unserved(candidate_id=c.id, reason=UnservedReason.INFEASIBLE_PIN, detail=failure, mandatory=c.mandatory, prize=c.prize)
            )
            continue

        skilled = [rd for rd in days if c.skills <= rd.skills]
        fits = [(rd, _fit(c, rd, not_before)) for rd in skilled]
        options = {rd.index: f.reachable for rd, f in fits if f.reachable and rd.holds(c)}
        free = c.max_visits - len(hard)
        if not hard and not options:
            reachable = [rd for rd, f in fits if f.reachable]
            if reachable:  # time and place fit, the capacity does not
                u = _over_capacity(c, reachable)
            elif not skilled:
                u = Unserved(
                    candidate_id=c.id,
                    reason=UnservedReason.NO_SKILLED_CREW,
                    detail=f"requires {', '.join(sorted(c.skills))}; no route-day of the week has a crew with all of it",
                    mandatory=c.mandatory,
                    prize=c.prize,
                )
            else:
                u = _reason(c, fits, not_before)
            if c.mandatory:
                prep.contradictions = True
                prep.messages.append(f"mandatory candidate {c.id} cannot be served: {u.detail}")
            prep.unserved.append(u)
            continue
        previous = sorted(
            (v for v in prior_of.get(c.id, []) if not any(h.frozen and h.prior and h.prior[1] == v.start for h in hard)),
            key=lambda v: v.start,
        )
        prep.nodes.extend(hard)
        if options:
            for k in range(free):
                before = previous[k] if k < len(previous) else None
                prior_spec = None
                if before is not None:
                    rd_prev = by_key.get((before.resource_id, before.day))
                    prior_spec = (rd_prev.index if rd_prev else None, before.start)
                prep.nodes.append(
                    NodeSpec(
                        candidate=c,
                        visit_index=len(hard) + k,
                        options=dict(options),
                        mandatory=c.mandatory and not hard and k == 0,
                        prior=prior_spec,
                    )
                )
    prep.nodes = _number_visits(prep.nodes)
    return prep


def _number_visits(nodes: list[NodeSpec]) -> list[NodeSpec]:
    """Renumber ``visit_index`` per commune: the solver's n-th visit of a commune.

    The solver keeps at most one node per (commune, visit_index), so the numbers must be
    the commune's, not the candidate's: pinned and frozen stops of a commune take the
    first numbers in turn (two frozen stops at one site and one at another are its visits
    0, 1 and 2), and each candidate's free copies the lowest numbers left.
    """
    out = list(nodes)
    by_commune: dict[int, list[int]] = {}
    for i, spec in enumerate(out):
        by_commune.setdefault(spec.candidate.commune_id, []).append(i)
    dropped: set[int] = set()
    for positions in by_commune.values():
        hard = [i for i in positions if out[i].frozen or out[i].pinned]
        # never more visit numbers than the commune allows: pins beyond them share the last
        # one, so only one of those is kept and the plan reports the others
        levels = max(out[i].candidate.max_visits for i in positions)
        for level, i in enumerate(hard):
            out[i] = replace(out[i], visit_index=min(level, levels - 1))
        free: dict[int, list[int]] = {}
        for i in positions:
            if not (out[i].frozen or out[i].pinned):
                free.setdefault(out[i].candidate.id, []).append(i)
        for copies in free.values():
            numbers = (level for level in itertools.count() if level >= len(hard))
            for i, level in zip(copies, numbers):
                if level >= levels:
                    # the commune's numbers are all taken: one copy joins the last group
                    # (served instead of its member, or reported), the others go
                    if i != copies[0]:
                        dropped.add(i)
                        continue
                    level = levels - 1
                out[i] = replace(out[i], visit_index=level)
    return [spec for i, spec in enumerate(out) if i not in dropped]
