"""The disruptions of a week, as the planner needs them: which hours of which day are lost.

A disruption is stored once with its period in UTC (:class:`~mobile_services.storage.tables.Disruption`);
the planner works in local minutes of each day. This turns the first into the second,
so that a bus out from Tuesday 10:00 to Wednesday 12:00 ends Tuesday's route at 10:00,
removes Wednesday morning and leaves Wednesday afternoon to plan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from mobile_services.storage import tables as t
from routing.problem import TimeWindow

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, kw_only=True)
class Outage:
    """Local minutes ``[start, end)`` of one day that are lost, and why (French, as typed)."""

    start: int
    end: int
    reason: str = ""

    def covers(self, window: TimeWindow) -> bool:
        return self.start <= window.start and self.end >= window.end

    def overlaps(self, window: TimeWindow) -> bool:
        return self.start < window.end and self.end > window.start


@dataclass(kw_only=True)
class WeekOutages:
    """Lost hours per vehicle-day and counsellor-day, blocked days per site."""

    vehicles: dict[tuple[int, date], list[Outage]] = field(default_factory=lambda: defaultdict(list))
    counsellors: dict[tuple[int, date], list[Outage]] = field(default_factory=lambda: defaultdict(list))
    sites: dict[int, dict[date, str]] = field(default_factory=lambda: defaultdict(dict))

    def vehicle(self, vehicle_id: int, day: date) -> list[Outage]:
        return self.vehicles.get((vehicle_id, day), [])

    def counsellor(self, counsellor_id: int, day: date) -> list[Outage]:
        return self.counsellors.get((counsellor_id, day), [])


def week_outages(session: Session, territory_id: int, days: list[date], timezone: str) -> WeekOutages:
    """Every disruption of the territory that touches ``days``, cut into local days."""
    tz = ZoneInfo(timezone)
    first = datetime.combine(days[0], time(0), tz)
    last = datetime.combine(days[-1] + timedelta(days=1), time(0), tz)
    out = WeekOutages()
    rows = session.exec(
        select(t.Disruption).where(
            t.Disruption.territory_id == territory_id,
            col(t.Disruption.starts_at) < last,
            col(t.Disruption.ends_at) > first,
            col(t.Disruption.kind).in_(("vehicle", "counsellor", "site")),
        )
    ).all()
    for row in rows:
        for day in days:
            outage = _on_day(row.starts_at, row.ends_at, day, tz, row.reason)
            if outage is None:
                continue
            if row.kind == "vehicle" and row.vehicle_id is not None:
                out.vehicles[(row.vehicle_id, day)].append(outage)
            elif row.kind == "counsellor" and row.counsellor_id is not None:
                out.counsellors[(row.counsellor_id, day)].append(outage)
            elif row.kind == "site" and row.site_id is not None:
                out.sites[row.site_id][day] = row.reason
    return out


def _on_day(starts_at: datetime, ends_at: datetime, day: date, tz: ZoneInfo, reason: str) -> Outage | None:
    """The part of ``[starts_at, ends_at)`` that falls on local ``day``, in minutes of that day."""
    midnight = datetime.combine(day, time(0), tz)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tz)
    lo, hi = max(starts_at, midnight), min(ends_at, next_midnight)
    if lo >= hi:
        return None
    start = _minute(lo.astimezone(tz)) if lo > midnight else 0
    end = _minute(hi.astimezone(tz)) if hi < next_midnight else MINUTES_PER_DAY
    return Outage(start=start, end=end, reason=reason)


def _minute(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def remaining(window: TimeWindow, outages: list[Outage]) -> TimeWindow | None:
    """The longest part of ``window`` no outage touches (None when nothing is left).

    A bus out from 10:00 keeps its morning before 10:00; back at 13:00, its afternoon.
    """
    pieces = [(window.start, window.end)]
    for outage in outages:
        cut: list[tuple[int, int]] = []
        for lo, hi in pieces:
            if outage.end <= lo or outage.start >= hi:
                cut.append((lo, hi))
                continue
            if outage.start > lo:
                cut.append((lo, outage.start))
            if outage.end < hi:
                cut.append((outage.end, hi))
        pieces = cut
    if not pieces:
        return None
    lo, hi = max(pieces, key=lambda p: (p[1] - p[0], -p[0]))
    return TimeWindow(lo, hi) if hi > lo else None
