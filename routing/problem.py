"""The input of a weekly tour plan: who can drive where, when, and what a stop is worth.

Everything is plain frozen data in integer minutes and integer ids; there are no dates.
Days are indexed 0..6 from the Monday of the planned week, and an instant in the week is
a *week-minute*: ``day * 1440 + minute_of_day`` (see :func:`week_minute`). The app
removes public holidays and days off before building the problem: ``routing`` has no
calendar.

Vocabulary:

* a :class:`Resource` is a bus or a counsellor who drives alone (``kind``);
* a :class:`Shift` is one working day of a resource. Each shift becomes one route, with
  its own window, lunch :class:`Break`, driving limit and (for a bus) :class:`Crew`;
* a :class:`Candidate` (alias :data:`StopRequest`) is a possible stop at a :class:`Site`
  of a commune, with a duration, a prize (expected demand served) and optionally a load
  that counts against the route-day's capacity;
* a :class:`Pin` forces a candidate onto a resource, day and start window.

Malformed data (duplicate ids, references to unknown things, impossible numbers) raises
:class:`ProblemError` at construction. Data that is well formed but cannot be honoured (a
pin outside opening hours, a bus day without crew) is *not* an error: the solver explains
it in the plan, because the coordinator needs an answer, not a trace.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from routing.matrix import DEFAULT_ROAD_FACTOR, DEFAULT_SPEED_KMH, TravelMatrix, haversine_matrix

MINUTES_PER_DAY = 1440
DAYS_PER_WEEK = 7
MINUTES_PER_WEEK = MINUTES_PER_DAY * DAYS_PER_WEEK
# Prizes above this are almost certainly a unit mistake, and would overflow the solver's
# 64-bit objective once scaled (see SolveParams.prize_scale).
MAX_PRIZE = 10_000.0
# A finer time unit than this (Problem.day_length) would push week times past what the
# solver's dimensions and the precheck's sentinels (10**9) are sized for.
MAX_DAY_LENGTH = 100_000_000


class ProblemError(ValueError):
    """The problem data is malformed: the message says which object and why."""


def week_minute(day: int, minute: int) -> int:
    """Minutes since Monday 00:00 for ``minute`` (from midnight) of ``day`` (0 = Monday)."""
    return day * MINUTES_PER_DAY + minute


def split_week_minute(value: int) -> tuple[int, int]:
    """``(day, minute_of_day)`` of a week-minute."""
    return divmod(value, MINUTES_PER_DAY)


def format_minute(value: int) -> str:
    """``HH:MM`` of a minute of day or of a week-minute (day dropped), for messages."""
    minute = value % MINUTES_PER_DAY if value >= MINUTES_PER_DAY else value
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(f"{name} must be an integer, got {value!r}")
    return value


def _check_day(name: str, day: object) -> int:
    d = _check_int(name, day)
    if not 0 <= d < DAYS_PER_WEEK:
        raise ProblemError(f"{name} must be a day index 0..6, got {d}")
    return d


@dataclass(frozen=True, order=True)
class TimeWindow:
    """A closed interval ``[start, end]`` of minutes (of a day, or of the week)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        _check_int("TimeWindow.start", self.start)
        _check_int("TimeWindow.end", self.end)
        if self.start < 0 or self.end < self.start:
            raise ProblemError(f"TimeWindow needs 0 <= start <= end, got [{self.start}, {self.end}]")

    @property
    def length(self) -> int:
        """Minutes between start and end."""
        return self.end - self.start

    def contains(self, minute: int) -> bool:
        """True when ``start <= minute <= end``."""
        return self.start <= minute <= self.end

    def shifted(self, offset: int) -> TimeWindow:
        """The same window moved by ``offset`` minutes (e.g. to week-minutes of a day)."""
        return TimeWindow(self.start + offset, self.end + offset)

    def __str__(self) -> str:
        return f"{format_minute(self.start)}-{format_minute(self.end)}"


def _day_window(name: str, window: TimeWindow) -> TimeWindow:
    """Type check only: the "within one day" bound depends on :attr:`Problem.day_length`."""
    if not isinstance(window, TimeWindow):
        raise ProblemError(f"{name} must be a TimeWindow, got {window!r}")
    return window


def _within_day(name: str, window: TimeWindow, day_length: int) -> None:
    if window.end > day_length:
        raise ProblemError(f"{name} must lie within one day (end <= {day_length}), got {window.end}")


class HalfDay(StrEnum):
    """Morning or afternoon, as coordinators pin stops."""

    MORNING = "morning"
    AFTERNOON = "afternoon"

    @property
    def start_window(self) -> TimeWindow:
        """Minutes of day in which a stop of this half-day starts."""
        if self is HalfDay.MORNING:
            return TimeWindow(0, 12 * 60 - 1)
        return TimeWindow(12 * 60, MINUTES_PER_DAY - 1)


@dataclass(frozen=True)
class OpeningHours:
    """Opening windows of a site for each day of the week (minutes of day, sorted, disjoint).

    Build it with :meth:`weekly` (``{day: [TimeWindow, ...]}``) or :meth:`always`. A day
    with no window is closed.
    """

    days: tuple[tuple[TimeWindow, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != DAYS_PER_WEEK:
            raise ProblemError(f"OpeningHours needs 7 days, got {len(self.days)}")
        normalized = []
        for d, windows in enumerate(self.days):
            ws = sorted(_day_window(f"opening window of day {d}", w) for w in windows)
            merged: list[TimeWindow] = []
            for w in ws:
                if merged and w.start <= merged[-1].end:
                    merged[-1] = TimeWindow(merged[-1].start, max(merged[-1].end, w.end))
                else:
                    merged.append(w)
            normalized.append(tuple(merged))
        object.__setattr__(self, "days", tuple(normalized))

    @classmethod
    def always(cls) -> OpeningHours:
        """Open all day, every day (a market square, a parking lot)."""
        return cls(tuple((TimeWindow(0, MINUTES_PER_DAY),) for _ in range(DAYS_PER_WEEK)))

    @classmethod
    def weekly(cls, by_day: Mapping[int, Iterable[TimeWindow]]) -> OpeningHours:
        """From ``{day index: windows}``; missing days are closed."""
        for d in by_day:
            _check_day("OpeningHours day", d)
        return cls(tuple(tuple(by_day.get(d, ())) for d in range(DAYS_PER_WEEK)))

    def on(self, day: int) -> tuple[TimeWindow, ...]:
        """Windows of ``day`` (0 = Monday)."""
        return self.days[day]


@dataclass(frozen=True, kw_only=True)
class Location:
    """A place with WGS84 coordinates: a site, a bus depot or a counsellor's home.

    ``id`` keys the travel matrices; the app must keep it unique across sites and depots.
    """

    id: int
    lat: float
    lon: float
    name: str = ""

    def __post_init__(self) -> None:
        _check_int("Location.id", self.id)
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ProblemError(f"Location {self.id} has invalid coordinates ({self.lat}, {self.lon})")


@dataclass(frozen=True, kw_only=True)
class Site:
    """Where a stop can happen in a commune (mairie, place du marché...)."""

    id: int
    commune_id: int
    location: Location
    opening: OpeningHours = field(default_factory=OpeningHours.always)
    market_days: frozenset[int] = frozenset()
    name: str = ""

    def __post_init__(self) -> None:
        _check_int("Site.id", self.id)
        _check_int("Site.commune_id", self.commune_id)
        if not isinstance(self.location, Location):
            raise ProblemError(f"Site {self.id}: location must be a Location")
        if not isinstance(self.opening, OpeningHours):
            raise ProblemError(f"Site {self.id}: opening must be OpeningHours (use OpeningHours.weekly)")
        days = frozenset(self.market_days)
        for d in days:
            _check_day(f"Site {self.id} market day", d)
        object.__setattr__(self, "market_days", days)


class ResourceKind(StrEnum):
    """What moves: a bus with desks (needs a crew) or a counsellor driving a car."""

    BUS = "bus"
    CAR = "car"


@dataclass(frozen=True, kw_only=True)
class Resource:
    """A bus or a car-driving counsellor; its working days are :class:`Shift` objects.

    ``cost_per_km`` is in euro cents. ``skills`` are what the resource itself brings (a
    car counsellor's own skills; equipment of a bus); a route's skills are these plus its
    crew's.
    """

    id: int
    kind: ResourceKind
    start: Location
    end: Location | None = None
    cost_per_km: int = 0
    skills: frozenset[str] = frozenset()
    name: str = ""

    def __post_init__(self) -> None:
        _check_int("Resource.id", self.id)
        try:
            object.__setattr__(self, "kind", ResourceKind(self.kind))
        except ValueError:
            raise ProblemError(f"Resource {self.id}: unknown kind {self.kind!r}") from None
        if not isinstance(self.start, Location):
            raise ProblemError(f"Resource {self.id}: start must be a Location")
        if self.end is None:
            object.__setattr__(self, "end", self.start)
        elif not isinstance(self.end, Location):
            raise ProblemError(f"Resource {self.id}: end must be a Location or None")
        if _check_int(f"Resource {self.id} cost_per_km", self.cost_per_km) < 0:
            raise ProblemError(f"Resource {self.id}: cost_per_km must be >= 0")
        object.__setattr__(self, "skills", frozenset(self.skills))

    @property
    def end_location(self) -> Location:
        """Where the resource finishes its day (its start if not given)."""
        assert self.end is not None
        return self.end


@dataclass(frozen=True, kw_only=True)
class CrewMember:
    """A counsellor riding a bus, with the skills (services) they can handle."""

    counsellor_id: int
    skills: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _check_int("CrewMember.counsellor_id", self.counsellor_id)
        object.__setattr__(self, "skills", frozenset(self.skills))


@dataclass(frozen=True, kw_only=True)
class Crew:
    """The counsellors on board a bus for one day; the route can offer their skills."""

    members: tuple[CrewMember, ...]

    def __post_init__(self) -> None:
        members = tuple(self.members)
        if not members:
            raise ProblemError("a Crew needs at least one member (use crew=None for no crew)")
        ids = [m.counsellor_id for m in members]
        if len(set(ids)) != len(ids):
            raise ProblemError(f"Crew lists a counsellor twice: {ids}")
        object.__setattr__(self, "members", members)

    @property
    def counsellor_ids(self) -> tuple[int, ...]:
        """Ids of the counsellors on board."""
        return tuple(m.counsellor_id for m in self.members)

    @property
    def skills(self) -> frozenset[str]:
        """Union of the members' skills."""
        return frozenset().union(*(m.skills for m in self.members))


@dataclass(frozen=True, kw_only=True)
class Break:
    """A lunch break of ``duration`` minutes that must lie entirely inside ``window``.

    The defaults (45 min between 12:00 and 14:00) match the usual crew agreement; the break
    may not overlap a stop or driving, but may happen before the route leaves or after it
    returns (the crew is then simply off duty at lunch time).
    """

    window: TimeWindow = TimeWindow(12 * 60, 14 * 60)
    duration: int = 45

    def __post_init__(self) -> None:
        _day_window("Break.window", self.window)
        if _check_int("Break.duration", self.duration) <= 0 or self.duration > self.window.length:
            raise ProblemError(
                f"Break of {self.duration} min does not fit its window {self.window}"
            )

    @property
    def latest_start(self) -> int:
        """Latest minute of day the break can start."""
        return self.window.end - self.duration


@dataclass(frozen=True, kw_only=True)
class Shift:
    """One working day of a resource: one route in the plan.

    ``window`` is when the route may leave and must be back (minutes of ``day``).
    ``max_driving`` caps the minutes spent driving that day (None: no cap beyond the shift).
    A bus shift needs a ``crew``; without one the route-day is not created and the plan
    says so. A car shift may carry a crew of one to state the counsellor's id and skills.
    ``capacity`` caps the sum of :attr:`Candidate.load` over the route's stops (None:
    unlimited): a counsellor can only hold so many appointments in a day, and a VRPTW
    vehicle only carries so much. Time alone does not say it, because a stop's duration
    is fixed while its appointments vary. ``desks`` is how many people the route-day can
    see at once (a bus's desks that its crew can staff; a car, one): candidates whose
    prize depends on it say so in :attr:`Candidate.prizes_by_desks`.
    """

    resource_id: int
    day: int
    window: TimeWindow = TimeWindow(8 * 60 + 30, 17 * 60 + 30)
    lunch: Break | None = field(default_factory=Break)
    max_driving: int | None = None
    crew: Crew | None = None
    capacity: int | None = None
    desks: int = 1

    def __post_init__(self) -> None:
        _check_int("Shift.resource_id", self.resource_id)
        if _check_int("Shift.desks", self.desks) < 1:
            raise ProblemError(f"Shift of resource {self.resource_id} day {self.day}: desks must be >= 1")
        _check_day(f"Shift of resource {self.resource_id} day", self.day)
        _day_window(f"Shift window of resource {self.resource_id} day {self.day}", self.window)
        if self.lunch is not None and not isinstance(self.lunch, Break):
            raise ProblemError("Shift.lunch must be a Break or None")
        if self.max_driving is not None and _check_int("Shift.max_driving", self.max_driving) < 0:
            raise ProblemError("Shift.max_driving must be >= 0")
        if self.crew is not None and not isinstance(self.crew, Crew):
            raise ProblemError("Shift.crew must be a Crew or None")
        if self.capacity is not None and _check_int("Shift.capacity", self.capacity) < 0:
            raise ProblemError(
                f"Shift of resource {self.resource_id} day {self.day}: capacity must be >= 0 "
                f"(None for unlimited), got {self.capacity}"
            )

    @property
    def key(self) -> tuple[int, int]:
        """``(resource_id, day)``: identifies the route."""
        return (self.resource_id, self.day)

    def week_window(self, day_length: int = MINUTES_PER_DAY) -> TimeWindow:
        """The shift window in week time (week-minutes with the default day length)."""
        return self.window.shifted(self.day * day_length)


def boosted_prize(
    prize: float, weeks_since_visit: int, *, per_week: float = 0.1, max_factor: float = 3.0
) -> float:
    """Prize raised for communes left out for a while: ``prize * min(max_factor, 1 + per_week * weeks)``.

    Why linear and capped: the coordinator must be able to predict it ("a commune gains 10 %
    per week without a visit"), and the cap stops a small, long-ignored commune from
    crowding out real demand forever. A hard maximum gap is expressed with
    ``Candidate.mandatory``, not by boosting.
    """
    if weeks_since_visit < 0:
        raise ProblemError("weeks_since_visit must be >= 0")
    if per_week < 0 or max_factor < 1.0:
        raise ProblemError("fairness needs per_week >= 0 and max_factor >= 1")
    return prize * min(max_factor, 1.0 + per_week * weeks_since_visit)


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A possible stop: ``duration`` minutes at ``site``, worth ``prize`` if it happens.

    * ``prize``: expected demand served (people), already capped by capacity by the app;
      raised by :func:`boosted_prize` from ``weeks_since_visit``.
    * ``market_bonus``: extra prize when the stop falls on one of the site's market days.
    * ``mandatory``: the maximum gap between visits is reached; the plan must serve it or
      say why it could not.
    * ``max_visits``: visits allowed this week. A commune gets at most one stop per week
      unless one of its candidates allows more; its stops of one day are all made by one
      route-day (two there are a full day: morning and afternoon, lunch between), other
      route-days serve it on other days.
    * ``prizes_by_desks``: when given, the prize of the commune's 1st, 2nd... stop made
      by a route-day with that many desks (:meth:`visit_prize`; the largest key not above
      the route-day's desks, else the smallest), so that a stop is worth the people it can
      really see and a second stop less than a first one elsewhere. Empty: ``prize`` for
      every stop.
    * ``skills``: the route's crew must have all of them.
    * ``load``: units one visit uses of its route-day's :attr:`Shift.capacity` (e.g. the
      appointments expected, or a VRPTW customer's demand); 0 uses none. A candidate
      heavier than every route-day it could use is reported ``OVER_CAPACITY``.
    """

    id: int
    site: Site
    duration: int
    prize: float = 1.0
    weeks_since_visit: int = 0
    mandatory: bool = False
    max_visits: int = 1
    skills: frozenset[str] = frozenset()
    market_bonus: float = 0.0
    load: int = 0
    prizes_by_desks: Mapping[int, tuple[float, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_int("Candidate.id", self.id)
        table: dict[int, tuple[float, ...]] = {}
        for desks, prizes in dict(self.prizes_by_desks).items():
            if _check_int(f"Candidate {self.id} prizes_by_desks key", desks) < 1:
                raise ProblemError(f"Candidate {self.id}: prizes_by_desks keys are desk counts >= 1")
            prizes = tuple(prizes)
            if not prizes:
                raise ProblemError(f"Candidate {self.id}: prizes_by_desks[{desks}] is empty")
            for value in prizes:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= MAX_PRIZE:
                    raise ProblemError(f"Candidate {self.id}: prizes_by_desks values must be in 0..{MAX_PRIZE:g}, got {value!r}")
            table[desks] = prizes
        object.__setattr__(self, "prizes_by_desks", MappingProxyType(table))
        if not isinstance(self.site, Site):
            raise ProblemError(f"Candidate {self.id}: site must be a Site")
        d = _check_int(f"Candidate {self.id} duration", self.duration)
        if d <= 0:
            raise ProblemError(f"Candidate {self.id}: duration must be at least 1 minute, got {d}")
        for name, value in (("prize", self.prize), ("market_bonus", self.market_bonus)):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ProblemError(f"Candidate {self.id}: {name} must be a number")
            if not math.isfinite(value) or not 0 <= value <= MAX_PRIZE:
                raise ProblemError(f"Candidate {self.id}: {name} must be in 0..{MAX_PRIZE:g}, got {value}")
        if _check_int(f"Candidate {self.id} weeks_since_visit", self.weeks_since_visit) < 0:
            raise ProblemError(f"Candidate {self.id}: weeks_since_visit must be >= 0")
        if not 1 <= _check_int(f"Candidate {self.id} max_visits", self.max_visits) <= DAYS_PER_WEEK:
            raise ProblemError(f"Candidate {self.id}: max_visits must be in 1..7")
        if _check_int(f"Candidate {self.id} load", self.load) < 0:
            raise ProblemError(f"Candidate {self.id}: load must be >= 0, got {self.load}")
        object.__setattr__(self, "skills", frozenset(self.skills))

    @property
    def commune_id(self) -> int:
        """The commune of the candidate's site."""
        return self.site.commune_id

    def visit_prize(self, visit_index: int, desks: int = 1) -> float:
        """Prize of the commune's ``visit_index``-th stop (0 = first) by a route-day with ``desks``."""
        if not self.prizes_by_desks:
            return self.prize
        fitting = [d for d in self.prizes_by_desks if d <= desks]
        prizes = self.prizes_by_desks[max(fitting) if fitting else min(self.prizes_by_desks)]
        return prizes[min(visit_index, len(prizes) - 1)]

    def __getstate__(self) -> dict[str, object]:
        """Picklable state (the read-only prize table becomes a dict) for parallel workers."""
        return {k: dict(v) if isinstance(v, MappingProxyType) else v for k, v in self.__dict__.items()}

    def __setstate__(self, state: dict[str, object]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, MappingProxyType(v) if k == "prizes_by_desks" else v)


StopRequest = Candidate
"""DESIGN.md's name for a candidate stop."""


@dataclass(frozen=True, kw_only=True)
class Pin:
    """Force a candidate onto ``resource_id`` on ``day``, starting inside ``start``.

    ``start`` is in minutes of ``day`` (None: any time that day). A pin that cannot be
    honoured is reported in the plan (``INFEASIBLE_PIN``), never silently moved.
    """

    candidate_id: int
    resource_id: int
    day: int
    start: TimeWindow | None = None

    def __post_init__(self) -> None:
        _check_int("Pin.candidate_id", self.candidate_id)
        _check_int("Pin.resource_id", self.resource_id)
        _check_day(f"Pin of candidate {self.candidate_id} day", self.day)
        if self.start is not None:
            _day_window(f"Pin of candidate {self.candidate_id} start", self.start)

    @classmethod
    def at_half_day(cls, candidate_id: int, resource_id: int, day: int, half: HalfDay) -> Pin:
        """Pin to the morning or the afternoon of a day."""
        return cls(candidate_id=candidate_id, resource_id=resource_id, day=day, start=HalfDay(half).start_window)

    def week_start(self, day_length: int = MINUTES_PER_DAY) -> TimeWindow:
        """Allowed start in week time (week-minutes with the default day length)."""
        window = self.start if self.start is not None else TimeWindow(0, day_length)
        return window.shifted(self.day * day_length)


def default_matrices(
    locations: Iterable[Location],
    *,
    speeds_kmh: Mapping[str, float] = DEFAULT_SPEED_KMH,
    road_factor: float = DEFAULT_ROAD_FACTOR,
) -> dict[ResourceKind, TravelMatrix]:
    """Haversine matrices for every resource kind (the embedded default)."""
    locs = list(locations)
    return {
        kind: haversine_matrix(locs, speed_kmh=speeds_kmh[kind.value], road_factor=road_factor)
        for kind in ResourceKind
    }


@dataclass(frozen=True, kw_only=True)
class Problem:
    """A week to plan. Validated at construction (:class:`ProblemError`).

    * ``shifts``: the route-days (already without holidays and days off).
    * ``matrices``: a :class:`TravelMatrix` per resource kind covering every location;
      kinds left out get the haversine default (:func:`default_matrices`). Read them
      through :meth:`matrix`.
    * ``frozen_before``: re-plan point in week-minutes. With ``solve(..., initial=plan)``,
      stops of ``initial`` starting before it are kept exactly, and nothing new is placed
      before it.
    * ``day_length``: integer time units in a day, 1440 (minutes) for the app. Every time
      of the problem and of its plan (windows, durations, matrix minutes, week times
      ``day * day_length + t``) is in that unit. Benchmarks set a finer unit so that
      instances given in hundredths are solved exactly instead of rounded up to whole
      minutes. The helpers that speak in clock time (:func:`format_minute`,
      :class:`HalfDay`, :meth:`OpeningHours.always`, ``Visit.day``) assume minutes.
    """

    resources: tuple[Resource, ...]
    shifts: tuple[Shift, ...]
    candidates: tuple[Candidate, ...]
    pins: tuple[Pin, ...] = ()
    matrices: Mapping[ResourceKind, TravelMatrix] = field(default_factory=dict)
    frozen_before: int | None = None
    day_length: int = MINUTES_PER_DAY
    _defaults: Mapping[ResourceKind, TravelMatrix] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("resources", "shifts", "candidates", "pins"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self._check_ids()
        locations = self._check_locations()
        matrices: dict[ResourceKind, TravelMatrix] = {}
        for kind, matrix in dict(self.matrices).items():
            try:
                kind = ResourceKind(kind)
            except ValueError:
                raise ProblemError(f"matrices: unknown resource kind {kind!r}") from None
            if not isinstance(matrix, TravelMatrix):
                raise ProblemError(f"matrices[{kind.value}] must be a TravelMatrix")
            missing = sorted(i for i in locations if not matrix.covers([i]))
            if missing:
                raise ProblemError(f"matrices[{kind.value}] lacks locations {missing[:10]}")
            matrices[kind] = matrix
        object.__setattr__(self, "matrices", MappingProxyType(matrices))
        # Defaults are kept apart from ``matrices`` so that ``dataclasses.replace`` with new
        # sites recomputes them instead of treating stale ones as the caller's.
        kinds_used = {r.kind for r in self.resources} - set(matrices)
        defaults = default_matrices(locations.values()) if kinds_used else {}
        object.__setattr__(self, "_defaults", MappingProxyType({k: defaults[k] for k in kinds_used}))
        self._check_times()
        if self.frozen_before is not None:
            fb = _check_int("Problem.frozen_before", self.frozen_before)
            if not 0 <= fb <= self.week_length:
                raise ProblemError(f"frozen_before must be a week time 0..{self.week_length}")

    @property
    def week_length(self) -> int:
        """Time units in the week (10080 minutes by default)."""
        return DAYS_PER_WEEK * self.day_length

    def _check_times(self) -> None:
        """Every window and duration within one day of :attr:`day_length` units."""
        day = _check_int("Problem.day_length", self.day_length)
        if not 1 <= day <= MAX_DAY_LENGTH:
            raise ProblemError(f"Problem.day_length must be in 1..{MAX_DAY_LENGTH}, got {day}")
        for s in self.shifts:
            _within_day(f"Shift window of resource {s.resource_id} day {s.day}", s.window, day)
            if s.lunch is not None:
                _within_day(f"Lunch window of resource {s.resource_id} day {s.day}", s.lunch.window, day)
        for c in self.candidates:
            if c.duration > day:
                raise ProblemError(f"Candidate {c.id}: duration must be in 1..{day}, got {c.duration}")
            for d, windows in enumerate(c.site.opening.days):
                for w in windows:
                    _within_day(f"opening window of day {d} of site {c.site.id}", w, day)
        for p in self.pins:
            if p.start is not None:
                _within_day(f"Pin of candidate {p.candidate_id} start", p.start, day)

    def __getstate__(self) -> dict[str, object]:
        """Picklable state (read-only mapping proxies become dicts) for parallel workers."""
        return {k: dict(v) if isinstance(v, MappingProxyType) else v for k, v in self.__dict__.items()}

    def __setstate__(self, state: dict[str, object]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, MappingProxyType(v) if isinstance(v, dict) else v)

    def _check_ids(self) -> None:
        def unique(label: str, ids: Sequence[object]) -> None:
            seen: set[object] = set()
            for i in ids:
                if i in seen:
                    raise ProblemError(f"duplicate {label} {i}")
                seen.add(i)

        for label, items, cls in (
            ("resource", self.resources, Resource),
            ("shift", self.shifts, Shift),
            ("candidate", self.candidates, Candidate),
            ("pin", self.pins, Pin),
        ):
            for item in items:
                if not isinstance(item, cls):
                    raise ProblemError(f"{label}s must be {cls.__name__} objects, got {type(item).__name__}")
        unique("resource id", [r.id for r in self.resources])
        unique("candidate id", [c.id for c in self.candidates])
        unique("shift (resource, day)", [s.key for s in self.shifts])
        resource_ids = {r.id for r in self.resources}
        candidate_ids = {c.id for c in self.candidates}
        for s in self.shifts:
            if s.resource_id not in resource_ids:
                raise ProblemError(f"shift of day {s.day} refers to unknown resource {s.resource_id}")
        for p in self.pins:
            if p.candidate_id not in candidate_ids:
                raise ProblemError(f"pin refers to unknown candidate {p.candidate_id}")
            if p.resource_id not in resource_ids:
                raise ProblemError(f"pin of candidate {p.candidate_id} refers to unknown resource {p.resource_id}")
        sites: dict[int, Site] = {}
        for c in self.candidates:
            if sites.setdefault(c.site.id, c.site) != c.site:
                raise ProblemError(f"site id {c.site.id} is used for two different sites")

    def _check_locations(self) -> dict[int, Location]:
        locations: dict[int, Location] = {}
        places = [loc for r in self.resources for loc in (r.start, r.end_location)]
        places += [c.site.location for c in self.candidates]
        for loc in places:
            known = locations.setdefault(loc.id, loc)
            if (known.lat, known.lon) != (loc.lat, loc.lon):
                raise ProblemError(f"location id {loc.id} is used for two different coordinates")
        return locations

    def matrix(self, kind: ResourceKind) -> TravelMatrix:
        """The travel matrix used for resources of ``kind`` (given, or the haversine default)."""
        kind = ResourceKind(kind)
        if kind in self.matrices:
            return self.matrices[kind]
        if kind not in self._defaults:
            object.__setattr__(self, "_defaults", MappingProxyType({**self._defaults, **{kind: default_matrices(self.locations)[kind]}}))
        return self._defaults[kind]

    @property
    def locations(self) -> tuple[Location, ...]:
        """Every distinct location (depots, homes, sites)."""
        return tuple(self._check_locations().values())

    def resource(self, resource_id: int) -> Resource:
        """The resource with this id."""
        for r in self.resources:
            if r.id == resource_id:
                return r
        raise KeyError(resource_id)

    def candidate(self, candidate_id: int) -> Candidate:
        """The candidate with this id."""
        for c in self.candidates:
            if c.id == candidate_id:
                return c
        raise KeyError(candidate_id)
