"""Synthetic rural territories: the app's full planning model, and PyVRP on the part it can express.

    python -m benchmarks rural --communes 100,250,500,1000 --seconds 30
                               [--buses 4] [--cars 2] [--seed 1] [--week 2026-W41]
                               [--csv out.csv] [--skip-pyvrp] [--skip-subset]

For each size, a territory from :func:`mobile_services.territory.generator.generate_territory`
(``buses`` buses with two counsellors each, ``cars`` counsellors driving their own car)
is imported into a throw-away SQLite database and translated by the app's own
:func:`mobile_services.service_layer.planning_problem.build_week_problem` (Monday to
Friday, lunch 45 min in 12:00-14:00, 240 min driving a day, fairness, market days,
skills, one stop per commune unless demand asks for two). Then:

* **ours, full model**: :func:`routing.solver.solve` in a child process, which reports
  the build time, the solve time and the peak resident memory of the whole process
  (``ru_maxrss``: territory, database, translator, matrices and solver together);
* **ours, subset** and **pyvrp, subset**: both solvers on the same reduced model that
  PyVRP can express: prizes (boosted, market-day bonus), route-days with their windows
  and depots, per-day opening windows (one PyVRP client per candidate, day and window,
  grouped per commune so at most one is served), service times, skills (as load
  dimensions: a route-day lacking a skill has capacity 0 in it), bus/car travel times.
  Left out: the lunch break, the driving limit and second visits (``max_visits``).

Every plan is checked by :func:`benchmarks.checkers.check_rural` against the subset
constraints. "Demand" is the expected demand of the served stops (``Candidate.prize``),
"value" what the objective counts (fairness boost and market bonus included).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.checkers import RuralCheck, RuralRoute, RuralStop, check_rural
from benchmarks.common import (
    OurSearch,
    add_search_arguments,
    search_from_args,
    console,
    fmt,
    machine,
    new_table,
    parse_ints,
    require_pyvrp,
    versions,
    write_csv,
)

DEFAULT_WEEK = "2026-W41"  # 5-9 October 2026: no public holiday anywhere in France


# --------------------------------------------------------------------------- the territory


def build_week(n_communes: int, *, seed: int, buses: int, cars: int, week: str) -> Any:
    """Generate, import and translate a territory: the app's ``WeekProblem``."""
    from sqlmodel import Session, SQLModel, select

    from mobile_services.service_layer.planning_problem import PlanningOptions, build_week_problem
    from mobile_services.storage import tables as t
    from mobile_services.storage.db import make_engine
    from mobile_services.territory.generator import generate_territory
    from mobile_services.territory.store import import_territory_data

    data = generate_territory(seed, n_communes, buses=buses, counsellors=2 * buses + cars)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'rural.db'}")
        try:
            SQLModel.metadata.create_all(engine)
            import_territory_data(engine, data, organisation="Benchmark")
            with Session(engine) as session:
                territory = session.exec(select(t.Territory)).one()
                return build_week_problem(session, territory.id, week, PlanningOptions())  # type: ignore[arg-type]
        finally:
            engine.dispose()


def subset_problem(problem: Any) -> Any:
    """The part of ``problem`` PyVRP can express: no lunch, no driving cap, one visit each,
    one prize per stop whatever vehicle makes it (PyVRP has no prize by vehicle; with our
    prizes by desks, ours would chase a different objective than the one compared here)."""
    shifts = tuple(dataclasses.replace(s, lunch=None, max_driving=None) for s in problem.shifts)
    candidates = tuple(dataclasses.replace(c, max_visits=1, prizes_by_desks={}) for c in problem.candidates)
    return dataclasses.replace(problem, shifts=shifts, candidates=candidates, pins=())


def value_on(candidate: Any, day: int) -> float:
    """What serving ``candidate`` on ``day`` is worth to our objective (default params)."""
    from routing.params import SolveParams
    from routing.problem import boosted_prize

    p = SolveParams()
    value = boosted_prize(
        candidate.prize, candidate.weeks_since_visit, per_week=p.fairness_per_week, max_factor=p.fairness_max_factor
    )
    if day in candidate.site.market_days:
        value += candidate.market_bonus
    return value


def plan_routes(plan: Any) -> list[RuralRoute]:
    """A routing Plan as checker routes."""
    return [
        RuralRoute(r.resource_id, r.day, tuple(RuralStop(v.candidate_id, v.start) for v in r.visits))
        for r in plan.routes
    ]


def plan_value(problem: Any, routes: Sequence[RuralRoute]) -> float:
    cands = {c.id: c for c in problem.candidates}
    return round(sum(value_on(cands[s.candidate_id], r.day) for r in routes for s in r.stops), 3)


# --------------------------------------------------------------------------- our planner


def _child(n: int, search: OurSearch, buses: int, cars: int, week: str, seconds: float, queue: Any) -> None:
    """Build and solve the full model in a fresh process; report times and peak memory.

    Peak memory is this process's plus the largest of its own search workers' (they run at
    the same time, so the sum bounds what the machine needs).
    """
    try:
        from routing.solver import SearchProgress, solve

        seed = search.seed
        started = time.perf_counter()
        week_problem = build_week(n, seed=seed, buses=buses, cars=cars, week=week)
        built = time.perf_counter()
        rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        trajectory: list[tuple[float, int]] = []

        def progress(p: SearchProgress) -> None:
            trajectory.append((p.elapsed_s, p.objective))

        plan = solve(week_problem.problem, search.params(seconds), progress=progress)
        solved = time.perf_counter()
        queue.put(
            {
                "routes": plan_routes(plan),
                "status": plan.status.value,
                "build_s": built - started,
                "solve_s": solved - built,
                "search_s": plan.elapsed_s,
                "rss_built_mb": rss_built / 1024,
                "rss_peak_mb": (
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                )
                / 1024,
                "first_s": trajectory[0][0] if trajectory else None,
                "last_s": trajectory[-1][0] if trajectory else None,
                "improvements": len(trajectory),
            }
        )
    except BaseException as exc:  # report, never hang the parent
        queue.put({"error": repr(exc)})


def solve_full_in_child(n: int, search: OurSearch, buses: int, cars: int, week: str, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(n, search, buses, cars, week, seconds, queue))
    proc.start()
    try:
        result: dict[str, Any] = queue.get(timeout=max(600.0, 20 * seconds))
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    if "error" in result:
        raise RuntimeError(f"the planner's child process failed: {result['error']}")
    return result


def solve_ours_subset(problem: Any, seconds: float, search: OurSearch) -> tuple[list[RuralRoute], float]:
    from routing.solver import solve

    started = time.perf_counter()
    plan = solve(problem, search.params(seconds))
    return plan_routes(plan), time.perf_counter() - started


# --------------------------------------------------------------------------- PyVRP


def solve_pyvrp_subset(problem: Any, seconds: float, seed: int) -> tuple[list[RuralRoute], float, int]:
    """PyVRP on the subset model (see the module docstring); returns routes, wall s, clients."""
    import numpy as np
    import pyvrp
    from pyvrp.stop import MaxRuntime

    from routing.precheck import route_days

    started = time.perf_counter()
    days, _ = route_days(problem)
    kinds = sorted({rd.resource.kind for rd in days}, key=lambda k: k.value)
    any_matrix = problem.matrices[kinds[0]]
    ids = list(any_matrix.ids)
    mdl = pyvrp.Model()
    locations = {loc_id: mdl.add_location(0.0, 0.0) for loc_id in ids}
    depots: dict[int, Any] = {}
    for rd in days:
        for loc in (rd.resource.start.id, rd.resource.end_location.id):
            if loc not in depots:
                depots[loc] = mdl.add_depot(locations[loc], tw_early=0, tw_late=7 * 1440)
    profiles = {kind: mdl.add_profile(name=kind.value) for kind in kinds}
    skills = sorted({s for c in problem.candidates for s in c.skills})
    big = 10**6
    vehicle_keys = []
    for rd in days:
        mdl.add_vehicle_type(
            1,
            capacity=[big if s in rd.skills else 0 for s in skills],
            start_depot=depots[rd.resource.start.id],
            end_depot=depots[rd.resource.end_location.id],
            tw_early=rd.window.start,
            tw_late=rd.window.end,
            unit_distance_cost=rd.resource.cost_per_km,
            profile=profiles[rd.resource.kind],
            name=f"{rd.resource.id}/{rd.day}",
        )
        vehicle_keys.append((rd.resource.id, rd.day))
    day_span: dict[int, tuple[int, int]] = {}
    for rd in days:
        lo, hi = day_span.get(rd.day, (rd.window.end, rd.window.start))
        day_span[rd.day] = (min(lo, rd.window.start), max(hi, rd.window.end))
    groups: dict[int, Any] = {}
    mandatory = {c.commune_id for c in problem.candidates if c.mandatory}
    client_keys: list[tuple[int, int]] = []
    for c in problem.candidates:
        for day, (lo, hi) in sorted(day_span.items()):
            for w in c.site.opening.on(day):
                early = max(day * 1440 + w.start, lo)
                late = min(day * 1440 + w.end, hi) - c.duration
                if early > late:
                    continue
                if c.commune_id not in groups:
                    groups[c.commune_id] = mdl.add_client_group(required=c.commune_id in mandatory)
                mdl.add_client(
                    locations[c.site.location.id],
                    delivery=[1 if s in c.skills else 0 for s in skills],
                    service_duration=c.duration,
                    tw_early=early,
                    tw_late=late,
                    prize=round(value_on(c, day) * 100_000 * 1000),
                    required=False,
                    group=groups[c.commune_id],
                )
                client_keys.append((c.id, day))
    data = mdl.data()
    dist, dur = [], []
    for kind in kinds:
        m = problem.matrices[kind]
        order = [m.position(loc_id) for loc_id in ids]
        metres = np.asarray(m.metres, dtype=np.int64)[np.ix_(order, order)]
        minutes = np.asarray(m.minutes, dtype=np.int64)[np.ix_(order, order)]
        dist.append(metres)
        dur.append(minutes)
    data = data.replace(distance_matrices=dist, duration_matrices=dur)
    # Prizes are in the units of our objective (one person = 10^8 metre-cents/km, i.e.
    # 1 000 euros of driving), far above PyVRP's default penalty ceiling (10^5 per minute
    # of time warp): without a higher ceiling PyVRP keeps time-warped plans as "best".
    params = pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=1e13))
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, display=False, collect_stats=False, params=params)
    routes = []
    for route in result.best.routes():
        resource_id, day = vehicle_keys[route.vehicle_type()]
        stops = tuple(RuralStop(client_keys[a.idx][0], a.start_time) for a in route.schedule() if a.is_client())
        routes.append(RuralRoute(resource_id, day, stops))
    return routes, time.perf_counter() - started, len(client_keys)


# --------------------------------------------------------------------------- the run


@dataclass
class Line:
    """One solver on one territory."""

    communes: int
    solver: str
    check: RuralCheck
    value: float
    wall_s: float
    build_s: float | None = None
    rss_mb: float | None = None
    note: str = ""


def run_size(n: int, args: argparse.Namespace, out: Any) -> tuple[list[Line], dict[str, Any]]:
    lines: list[Line] = []
    started = time.perf_counter()
    week_problem = build_week(n, seed=args.seed, buses=args.buses, cars=args.cars, week=args.week)
    problem = week_problem.problem
    stats = {
        "communes": n,
        "candidates": len(problem.candidates),
        "route_days": len(problem.shifts),
        "locations": len(problem.matrices[next(iter(problem.matrices))].ids),
        "build_parent_s": time.perf_counter() - started,
        "max_visits_2": sum(1 for c in problem.candidates if c.max_visits > 1),
        "mandatory": sum(1 for c in problem.candidates if c.mandatory),
    }
    out.print(
        f"{n} communes: {stats['candidates']} candidates ({stats['max_visits_2']} may get 2 visits), "
        f"{stats['route_days']} route-days, {stats['locations']} locations, built in {stats['build_parent_s']:.1f} s",
        highlight=False,
    )
    full = solve_full_in_child(n, search_from_args(args), args.buses, args.cars, args.week, args.seconds)
    check = check_rural(problem, full["routes"], one_visit_per_commune=False)
    lines.append(
        Line(
            n,
            "ours, full model",
            check,
            plan_value(problem, full["routes"]),
            full["solve_s"],
            full["build_s"],
            full["rss_peak_mb"],
            f"1st {fmt(full['first_s'], 2)} s, last impr. {fmt(full['last_s'], 1)} s "
            f"({full['improvements']}); RSS after build {full['rss_built_mb']:.0f} MB",
        )  # fmt: skip
    )
    sub = subset_problem(problem)
    if not args.skip_subset:
        routes, wall = solve_ours_subset(sub, args.seconds, search_from_args(args))
        lines.append(Line(n, "ours, subset", check_rural(sub, routes), plan_value(sub, routes), wall))
    if not args.skip_pyvrp:
        routes, wall, clients = solve_pyvrp_subset(sub, args.seconds, args.seed)
        lines.append(
            Line(
                n,
                "pyvrp, subset",
                check_rural(sub, routes),
                plan_value(sub, routes),
                wall,
                note=f"{clients} PyVRP clients",
            )
        )
    return lines, stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--communes", default="100,250,500,1000", help="territory sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="search budget per solver")
    parser.add_argument("--buses", type=int, default=4)
    parser.add_argument("--cars", type=int, default=2, help="counsellors driving their own car")
    add_search_arguments(parser, default_seed=1)
    parser.add_argument("--week", default=DEFAULT_WEEK, help="ISO week planned (Monday-Friday)")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--skip-pyvrp", action="store_true")
    parser.add_argument("--skip-subset", action="store_true", help="do not run our planner on the subset model")


def main(args: argparse.Namespace) -> int:
    if not args.skip_pyvrp:
        require_pyvrp()
    out = console()
    all_lines: list[Line] = []
    for n in parse_ints(args.communes):
        lines, _ = run_size(n, args, out)
        all_lines.extend(lines)
    table = new_table(
        f"Rural territories, {args.buses} buses + {args.cars} cars, Mon-Fri, {args.seconds:g} s search "
        "(checked on the subset constraints)",
        [
            ("communes", "right"),
            ("solver", "left"),
            ("ok", "left"),
            ("communes visited", "right"),
            ("stops", "right"),
            ("demand", "right"),
            ("value", "right"),
            ("km", "right"),
            ("solve s", "right"),
            ("build s", "right"),
            ("peak RSS MB", "right"),
            ("notes", "left"),
        ],  # fmt: skip
    )
    for line in all_lines:
        ok = "yes" if line.check.feasible else f"[red]NO: {line.check.violations[0]}[/]"
        table.add_row(
            str(line.communes), line.solver, ok, str(line.check.communes), str(line.check.stops),
            fmt(line.check.demand, 1), fmt(line.value, 1), fmt(line.check.km, 0), fmt(line.wall_s, 1),
            fmt(line.build_s, 1), fmt(line.rss_mb, 0), line.note,
        )  # fmt: skip
    out.print(table)
    out.print(f"machine: {machine()}; {versions()}")
    if args.csv:
        write_csv(
            args.csv,
            [
                "communes",
                "solver",
                "feasible",
                "communes_visited",
                "stops",
                "demand",
                "value",
                "km",
                "solve_s",
                "build_s",
                "peak_rss_mb",
                "seconds",
            ],  # fmt: skip
            (
                [
                    line.communes,
                    line.solver,
                    line.check.feasible,
                    line.check.communes,
                    line.check.stops,
                    line.check.demand,
                    line.value,
                    line.check.km,
                    fmt(line.wall_s, 2),
                    fmt(line.build_s, 2),
                    fmt(line.rss_mb, 0),
                    args.seconds,
                ]  # fmt: skip
                for line in all_lines
            ),
        )
    return 0
