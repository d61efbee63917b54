"""Why each commune with demand got no stop: the constraint that binds, with its numbers.

Coordinators act on these lines (open a mairie one more half-day, give a counsellor a
skill, start a tour earlier), so each reason is computed from the week's data, never
inferred from a generic code: which site, which route-day came closest, how many minutes
were missing and why. The texts are in ``reports/templates/left_out.fr.toml``.

Order of the checks, from the most basic: no site; no site open when a tour runs or too
short a window (computed while building the problem: ``WeekProblem.site_issues``); no
route-day at all; no crew with the skill the demand asks for on a day the site opens; the
drive, the shift and the opening window (arrival too late, no time to come back, the
driving limit, the lunch break); and when a stop was possible, the stops that were
preferred on the route-days that could have made it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mobile_services.service_layer.insertion import Insertion, cheapest_insertion
from mobile_services.service_layer.planning_problem import (
    BUS_ONLY,
    CAR_ONLY,
    FRENCH_DAYS,
    WeekProblem,
    _hours_fr,
)
from routing.precheck import Preparation, RouteDay, prepare
from routing.problem import Candidate, TimeWindow, boosted_prize, format_minute
from routing.result import Plan, SolveStatus

#: communes expecting fewer people than this are not listed as left out
DEMAND_THRESHOLD = 1.0
_KINDS = frozenset({BUS_ONLY, CAR_ONLY})
#: values closer than this are equal as printed (one decimal): the shorter drive decided
_TIE = 0.05


@dataclass(frozen=True, kw_only=True)
class LeftOut:
    """One commune without a stop: a reason code, the French line, an English detail."""

    commune_id: int
    site: str
    reason: str
    text_fr: str
    detail: str
    mandatory: bool = False


@cache
def _texts() -> dict[str, str]:
    path = resources.files("mobile_services.reports") / "templates" / "left_out.fr.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _say(key: str, **fields: object) -> str:
    return _texts()[key].format(**fields)


def explain_left_out(week: WeekProblem, result: Plan, *, max_gap_weeks: int | None = None) -> list[LeftOut]:
    """Every commune with demand and no stop in ``result``, with why (most demand first)."""
    problem = week.problem
    served = {v.commune_id for r in result.routes for v in r.visits}
    prep = prepare(problem)
    by_commune: dict[int, list[Candidate]] = {}
    for c in problem.candidates:
        by_commune.setdefault(c.commune_id, []).append(c)
    options: dict[int, set[int]] = {}  # candidate -> route-day indices it could use
    for node in prep.nodes:
        options.setdefault(node.candidate.id, set()).update(node.options)
    unserved = {u.candidate_id: u for u in result.unserved}

    out: list[LeftOut] = []
    for commune in week.communes.values():
        cid = commune.id
        demand = week.demand_by_commune.get(cid, 0.0)  # type: ignore[arg-type]
        if cid in served or demand < DEMAND_THRESHOLD:
            continue
        candidates = by_commune.get(cid, [])  # type: ignore[arg-type]
        if not candidates:
            out.append(_without_candidate(week, cid))  # type: ignore[arg-type]
            continue
        usable = [c for c in candidates if options.get(c.id)]
        if usable:
            out.append(_not_chosen(week, prep, result, cid, usable, options, unserved, max_gap_weeks))  # type: ignore[arg-type]
        else:
            out.append(_cannot_fit(week, prep, cid, candidates))  # type: ignore[arg-type]
    demand_of = week.demand_by_commune
    out.sort(key=lambda item: -demand_of.get(item.commune_id, 0.0))
    return out


def _without_candidate(week: WeekProblem, commune_id: int) -> LeftOut:
    sites = [s for s in week.sites.values() if s.commune_id == commune_id]
    if not sites:
        return LeftOut(commune_id=commune_id, site="", reason="no_site", text_fr=_say("no_site"), detail="no site")
    issues = [(s, week.site_issues[s.id]) for s in sites if s.id in week.site_issues]  # type: ignore[index]
    if issues:
        # the site that came closest: a too-short window before a closed one
        rank = {"too_short": 0, "closed_on_route_days": 1, "no_vehicle_kind": 2}
        site, issue = min(issues, key=lambda pair: (rank.get(pair[1].key, 3), -int(pair[1].fields.get("usable", 0))))  # type: ignore[call-overload]
        return LeftOut(
            commune_id=commune_id, site=site.name, reason=issue.key, text_fr=_say(issue.key, **issue.fields), detail=issue.english
        )
    site = sites[0]
    return LeftOut(
        commune_id=commune_id, site=site.name, reason="no_hours", text_fr=_say("no_hours", site=site.name),
        detail=f"site {site.id} has no opening hours on a working day",
    )


def _route_label(rd: RouteDay) -> str:
    return f"{rd.resource.name or rd.resource.id} {FRENCH_DAYS[rd.day][:3]}."


def _not_chosen(
    week: WeekProblem,
    prep: Preparation,
    result: Plan,
    commune_id: int,
    usable: Sequence[Candidate],
    options: dict[int, set[int]],
    unserved: dict[int, object],
    max_gap_weeks: int | None,
) -> LeftOut:
    """A stop fitted on some route-days: say which, and what they did instead."""
    site = week.sites[usable[0].id]
    mandatory = any(c.mandatory for c in usable)
    if result.status is SolveStatus.NO_SOLUTION:
        return LeftOut(commune_id=commune_id, site=site.name, reason="no_solution", text_fr=_say("no_solution"), detail="no solution")
    if any(getattr(unserved.get(c.id), "reason", None) == "infeasible_pin" for c in usable):
        return LeftOut(commune_id=commune_id, site=site.name, reason="pin", text_fr=_say("pin"), detail="pin conflicts")
    if mandatory:
        weeks = max(c.weeks_since_visit for c in usable)
        return LeftOut(
            commune_id=commune_id, site=site.name, reason="mandatory", text_fr=_say("mandatory", weeks=weeks),
            detail="mandatory but no room", mandatory=True,
        )
    # What a stop here would cost: on each route-day that could take it, the planned stops
    # it would replace and the drive it would add (the cheapest way in).
    route_of = {(r.resource_id, r.day): r for r in result.routes}
    best: tuple[float, float, Insertion] | None = None  # (given up - own value, own value, insertion)
    for c in usable:
        for node in (n for n in prep.nodes if n.candidate.id == c.id):
            for v, windows in node.options.items():
                rd = prep.route_days[v]
                found = cheapest_insertion(rd, route_of.get(rd.key), windows, c)
                if found is None:
                    continue
                own_here = boosted_prize(c.visit_prize(0, rd.shift.desks), c.weeks_since_visit)
                if best is None or found.removed_value - own_here < best[0]:
                    best = (found.removed_value - own_here, own_here, found)
    route_days = {v for c in usable for v in options[c.id]}
    if best is None:  # no gap even in place of every stop: the fixed stops around it bind
        return LeftOut(
            commune_id=commune_id, site=site.name, reason="no_room", text_fr=_say("no_room", days=len(route_days)),
            detail=f"fits {len(route_days)} route-days, none with room beside its pinned or fixed stops",
        )
    _, own, insertion = best
    names = list(dict.fromkeys(week.communes[v.commune_id].name for v in insertion.removed))  # type: ignore[index]
    fields = {
        "days": len(route_days),
        "kept": _number(insertion.removed_value),
        "own": _number(own),
        "best": _route_label(insertion.route_day),
        "stops": ", ".join(names),
        "n_stops": f"{len(insertion.removed)} arrêt{'s' if len(insertion.removed) > 1 else ''}",
        "drive": _drive_fr(insertion.extra_drive),
        "guarantee": _say("guarantee", weeks=max_gap_weeks) if max_gap_weeks else "",
    }
    if names and insertion.removed_value >= own - _TIE:
        key = "lower_priority"
    else:  # a stop there was worth more than what it replaces: the search did not find it
        key = "search_missed" if names else "search_missed_free"
    return LeftOut(
        commune_id=commune_id,
        site=site.name,
        reason=key,
        text_fr=_say(key, **fields),
        detail=(
            f"fits {len(route_days)} route-days; on the cheapest a stop there would replace "
            f"{len(insertion.removed)} stops worth {insertion.removed_value:.1f} and add "
            f"{insertion.extra_drive} min of driving (vs {own:.1f})"
        ),
    )


def _drive_fr(minutes: int) -> str:
    """The drive a stop adds, as coordinators say it (``""`` when it adds none)."""
    return _say("extra_drive", minutes=minutes) if minutes > 0 else ""


def _number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _cannot_fit(week: WeekProblem, prep: Preparation, commune_id: int, candidates: Sequence[Candidate]) -> LeftOut:
    """No route-day can hold any of the commune's stops: find the rule that binds, with numbers."""
    if not prep.route_days:
        site = week.sites[candidates[0].id]
        return LeftOut(commune_id=commune_id, site=site.name, reason="no_route", text_fr=_say("no_route"), detail="no route-day")
    findings = [_closest(week, prep, c) for c in candidates]
    # the most specific finding: a timing one (crew and hours agree) before a skill or closed one
    rank = {"too_late": 0, "too_early_back": 0, "lunch": 0, "driving_limit": 1, "no_skill": 2, "no_skill_anywhere": 3,
            "closed_on_route_days": 4}
    key, fields, english, candidate = min(findings, key=lambda f: (rank.get(f[0], 5), f[1].get("_gap", 0)))
    fields = {k: v for k, v in fields.items() if not k.startswith("_")}
    site = week.sites[candidate.id]
    return LeftOut(commune_id=commune_id, site=site.name, reason=key, text_fr=_say(key, **fields), detail=english)


def _skills_fr(skills: Iterable[str]) -> str:
    return ", ".join(sorted(skills))


def _closest(week: WeekProblem, prep: Preparation, c: Candidate) -> tuple[str, dict[str, object], str, Candidate]:
    site = week.sites[c.id]
    opening = c.site.opening
    kind = c.skills & _KINDS
    needed = c.skills - _KINDS
    by_kind = [rd for rd in prep.route_days if kind <= rd.skills]
    hours_all = _hours_fr(opening, range(7)) or "jamais"
    open_kind = [rd for rd in by_kind if opening.on(rd.day)]
    if not open_kind:
        worked = ", ".join(FRENCH_DAYS[d] for d in sorted({rd.day for rd in by_kind})) or "aucun"
        return "closed_on_route_days", {"site": site.name, "worked": worked, "hours": hours_all}, "closed on route days", c
    open_days = [rd for rd in open_kind if needed <= rd.skills]
    if not open_days:
        holders = [rd for rd in prep.route_days if needed <= rd.skills]
        if not holders:
            return "no_skill_anywhere", {"skill": _skills_fr(needed)}, f"nobody has {sorted(needed)}", c
        skilled_days = ", ".join(_route_label(rd) for rd in holders[:4]) + (" …" if len(holders) > 4 else "")
        return (
            "no_skill",
            {"site": site.name, "hours": hours_all, "skill": _skills_fr(needed), "skilled": f"compétence le {skilled_days}"},
            f"site open {hours_all} but no crew with {sorted(needed)} that day",
            c,
        )
    best: tuple[int, str, dict[str, object], str] | None = None
    for rd in open_days:
        found = _timing(rd, c, site.name)
        if best is None or found[0] < best[0]:
            best = found
    assert best is not None
    gap, key, fields, english = best
    fields["_gap"] = gap
    return key, fields, english, c


def _timing(rd: RouteDay, c: Candidate, site_name: str) -> tuple[int, str, dict[str, object], str]:
    """(minutes missing, key, fields, English) for candidate ``c`` on route-day ``rd`` from its depot."""
    shift = rd.shift
    resource = rd.resource
    t_out = rd.matrix.minutes_between(resource.start.id, c.site.location.id)
    t_back = rd.matrix.minutes_between(c.site.location.id, resource.end_location.id)
    depot = resource.start.name or "le dépôt"
    common: dict[str, object] = {
        "vehicle": resource.name or str(resource.id),
        "shift": f"{FRENCH_DAYS[rd.day]} {shift.window}",
        "depot": depot,
        "duration": c.duration,
        "site": site_name,
        "day": FRENCH_DAYS[rd.day],
        "hours": _hours_fr(c.site.opening, [rd.day]),
    }
    if shift.max_driving is not None and t_out + t_back > shift.max_driving:
        return (
            t_out + t_back - shift.max_driving,
            "driving_limit",
            {**common, "drive": t_out + t_back, "limit": shift.max_driving},
            f"round trip {t_out + t_back} min > driving limit {shift.max_driving}",
        )
    best: tuple[int, str, dict[str, object], str] | None = None
    for w in c.site.opening.on(rd.day):
        earliest = max(w.start, shift.window.start + t_out)
        latest = min(w.end, shift.window.end - t_back) - c.duration
        if earliest <= latest:
            lunch = shift.lunch
            if lunch is None:
                continue  # fits: another rule (routing's detail) binds
            found = (
                0,
                "lunch",
                {**common, "lunch": lunch.duration, "lunch_from": format_minute(lunch.window.start),
                 "lunch_to": format_minute(lunch.window.end)},
                "the stop would swallow the lunch break",
            )
        elif shift.window.start + t_out + c.duration > w.end:
            found = (
                earliest - latest,
                "too_late",
                {**common, "drive": t_out, "closes": format_minute(w.end)},
                f"arrives {t_out} min after the shift starts; window closes at {w.end}",
            )
        else:
            found = (
                earliest - latest,
                "too_early_back",
                {**common, "drive": t_back},
                f"must be back {t_back} min after the stop, before the shift ends",
            )
        if best is None or found[0] < best[0]:
            best = found
    if best is None:  # no lunch and every window fits from the depot: the precheck would not refuse
        return 10**6, "no_route", {}, "no timing rule binds"
    return best
