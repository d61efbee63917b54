"""TOPTW (team orienteering with time windows): our planner versus PyVRP, same budget.

    python -m benchmarks toptw --data DIR --seconds 10 [--m 1,2,3,4] [--instances pr01,pr02]
                               [--bks FILE] [--csv out.csv] [--seed 0] [--decimals auto]
                               [--diagnose] [--skip-pyvrp]

Reads every ``*.txt`` instance of DIR in the KU Leuven / OPLib text format (see
``shared/benchmarks/toptw/README.md``), solves each at each ``m`` with
:func:`routing.solver.solve` and with PyVRP one after the other, checks both solutions
with :mod:`benchmarks.checkers` in the original units and prints one row per (instance,
m) plus the means. Only checked scores are reported: an infeasible solution scores 0
and is flagged.

Mapping onto our planner (the same objects the app builds):

* ``m`` tours = ``m`` CAR resources at the depot (location 0), one :class:`Shift` each
  on day 0, window = the depot's window on the time grid, no lunch, no driving cap,
  ``cost_per_km = 1`` (kilometres only break ties: one score point is worth 10^8
  distance ticks);
* customer ``i`` = a :class:`Candidate` (id ``i``, its own commune ``i``) with
  ``prize = score``. TOPTW windows bound the *start* of service while ours must hold the
  whole stop, so (see :class:`~benchmarks.common.TimeGrid`) the service is folded into
  the travel time: the stop lasts 1 time unit, the site is open
  ``[ceil(f*O_i), floor(f*C_i) + 1]``, and the matrix's time from ``i`` to ``j`` is
  ``ceil(f*(s_i + d_ij)) - 1``. The grid is exact (``f = 10**decimals`` units per
  original unit, ``Problem.day_length`` long enough for the horizon); with
  ``--minute-grid`` it is the one-day minute grid of the first rounds, where this is one
  conservative rounding per leg instead of two (service and travel separately);
* metres = the exact scaled distance (``floor(10**decimals * d)``).

PyVRP gets the exact instance (integer ticks of ``10**-decimals``): optional clients
with ``prize = score * (m * Tmax_ticks + 1)`` (so one point outweighs any distance),
``m`` vehicles, depot and vehicle window ``[O_0, Tmax]``.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from benchmarks.checkers import TourCheck, check_toptw
from benchmarks.common import (
    OurSearch,
    add_search_arguments,
    search_from_args,
    SolverRun,
    TimeGrid,
    ceil_frac,
    console,
    find_file,
    floor_frac,
    fmt,
    gap_max,
    machine,
    mean,
    new_table,
    parse_ints,
    parse_names,
    require_pyvrp,
    timed,
    versions,
    write_csv,
)

# --------------------------------------------------------------------------- instances


class InstanceError(ValueError):
    """An instance file does not follow the expected format (message names the line)."""


@dataclass(frozen=True)
class Node:
    """One line of a TOPTW file: vertex ``id`` (0 = depot), in original units."""

    id: int
    x: Fraction
    y: Fraction
    service: Fraction
    score: int
    open: Fraction
    close: Fraction


@dataclass(frozen=True)
class ToptwInstance:
    """A TOPTW instance: depot ``nodes[0]``, customers ``nodes[1:]``; ``m`` is external."""

    name: str
    nodes: tuple[Node, ...]
    decimals: int

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.nodes) - 1

    @property
    def horizon(self) -> Fraction:
        """Tour time limit Tmax = closing time of the depot."""
        return self.nodes[0].close

    @property
    def total_score(self) -> int:
        """Score of visiting everybody (an upper bound)."""
        return sum(node.score for node in self.nodes)

    @property
    def scores(self) -> list[int]:
        """Score by node id (0 for the depot)."""
        return [node.score for node in self.nodes]


def default_decimals(name: str) -> int:
    """Distance truncation of the standard sets: 2 decimals for Cordeau's pr*, else 1."""
    return 2 if name.lower().startswith("pr") else 1


def _number(token: str, where: str) -> Fraction:
    try:
        return Fraction(token)
    except (ValueError, ZeroDivisionError):
        raise InstanceError(f"{where}: {token!r} is not a number") from None


def read_toptw(path: str | Path, decimals: int | None = None) -> ToptwInstance:
    """Parse a TOPTW instance file (``k v N t`` / ``D Q`` / ``N+1`` node lines).

    A node line is ``i x y d S f a list... O C``: O and C are the last two tokens.
    Blank lines and CRLF line ends are accepted.
    """
    path = Path(path)
    name = path.stem
    lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [tokens for tokens in lines if tokens]
    if len(lines) < 3:
        raise InstanceError(f"{path}: too short for a TOPTW instance")
    header = lines[0]
    if len(header) < 3:
        raise InstanceError(f"{path}:1: expected 'k v N t', got {' '.join(header)!r}")
    try:
        n = int(header[2])
    except ValueError:
        raise InstanceError(f"{path}:1: N = {header[2]!r} is not an integer") from None
    body = lines[2:]
    if len(body) < n + 1:
        raise InstanceError(f"{path}: N = {n} needs {n + 1} node lines, found {len(body)}")
    nodes = []
    for expected, tokens in enumerate(body[: n + 1]):
        where = f"{path.name} node line {expected}"
        if len(tokens) < 9:
            raise InstanceError(f"{where}: expected at least 9 tokens, got {len(tokens)}")
        values = [_number(t, where) for t in tokens]
        if values[0] != expected:
            raise InstanceError(f"{where}: vertex id {tokens[0]} out of order")
        score = values[4]
        if score.denominator != 1:
            raise InstanceError(f"{where}: score {tokens[4]} is not an integer")
        open_, close = values[-2], values[-1]
        if close < open_:
            raise InstanceError(f"{where}: window [{tokens[-2]}, {tokens[-1]}] is reversed")
        if values[3] < 0:
            raise InstanceError(f"{where}: negative service time")
        nodes.append(Node(expected, values[1], values[2], values[3], int(score), open_, close))
    return ToptwInstance(name, tuple(nodes), default_decimals(name) if decimals is None else decimals)


def instance_files(folder: Path, names: set[str] | None = None) -> list[Path]:
    """The ``*.txt`` files of ``folder`` (optionally only ``names``), natural order."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".txt")
    if names is not None:
        files = [p for p in files if p.stem.lower() in names]
    return files


def read_bks(path: Path) -> dict[tuple[str, int], int]:
    """``{(instance, m): best known score}`` from a ``instance,m,best_known_score`` CSV."""
    out: dict[tuple[str, int], int] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            value = row.get("best_known_score") or row.get("best_known") or row.get("bks")
            if not value or not row.get("instance") or not row.get("m"):
                continue
            out[(row["instance"].strip().lower(), int(row["m"]))] = int(float(value))
    return out


# --------------------------------------------------------------------------- integer data


def scaled_distances(inst: ToptwInstance) -> list[list[int]]:
    """``floor(10**decimals * d_ij)`` for every pair, exactly (integer coordinates, isqrt).

    Written apart from :func:`benchmarks.checkers.truncated_distance` on purpose: the
    checker must not share the adapters' arithmetic.
    """
    import math

    denominators = [v.denominator for node in inst.nodes for v in (node.x, node.y)]
    lcm = 1
    for d in denominators:
        lcm = lcm * d // math.gcd(lcm, d)
    xs = [int(node.x * lcm) for node in inst.nodes]
    ys = [int(node.y * lcm) for node in inst.nodes]
    k2 = 10 ** (2 * inst.decimals)
    l2 = lcm * lcm
    n = len(inst.nodes)
    out = [[0] * n for _ in range(n)]
    for i in range(n):
        row = out[i]
        for j in range(i + 1, n):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            v = math.isqrt((dx * dx + dy * dy) * k2 // l2)
            row[j] = v
            out[j][i] = v
    return out


@dataclass(frozen=True)
class GridModel:
    """The instance on a :class:`TimeGrid`: what our planner (and ``pyvrp@grid``) solve.

    ``transit[i][j]`` = ``ceil(f * (s_i + d_ij))`` (service folded in), ``window[i]`` =
    ``(ceil(f*O_i), min(floor(f*C_i), horizon - 1))`` or None when empty on the grid.
    """

    grid: TimeGrid
    start: int
    horizon: int
    transit: list[list[int]]
    window: list[tuple[int, int] | None]


def grid_model(inst: ToptwInstance, dist: Sequence[Sequence[int]], day_length: int | None = None) -> GridModel:
    grid = TimeGrid.for_horizon(inst.horizon, inst.decimals, day_length)
    k = 10**inst.decimals
    depot = inst.nodes[0]
    start = grid.up(depot.open)
    horizon = grid.down(depot.close)
    n = len(inst.nodes)
    transit = [[0] * n for _ in range(n)]
    for i, node in enumerate(inst.nodes):
        service = node.service if i else Fraction(0)
        row = dist[i]
        for j in range(n):
            if i != j:
                transit[i][j] = grid.up(service + Fraction(row[j], k))
    windows: list[tuple[int, int] | None] = [(start, horizon)]
    for node in inst.nodes[1:]:
        lo, hi = grid.up(node.open), min(grid.down(node.close), horizon - 1)
        windows.append((lo, hi) if lo <= hi else None)
    return GridModel(grid, start, horizon, transit, windows)


# --------------------------------------------------------------------------- our planner


def build_problem(inst: ToptwInstance, m: int, model: GridModel, dist: Sequence[Sequence[int]]):  # type: ignore[no-untyped-def]
    """The TOPTW instance as a :class:`routing.problem.Problem` (see the module docstring)."""
    from routing.matrix import TravelMatrix
    from routing.problem import (
        Candidate,
        Location,
        OpeningHours,
        Problem,
        Resource,
        ResourceKind,
        Shift,
        Site,
        TimeWindow,
    )

    n = len(inst.nodes)
    minutes = []
    for i in range(n):
        fold = 1 if i else 0  # the 1-minute stop at i is part of the transit
        minutes.append(tuple(0 if i == j else max(0, model.transit[i][j] - fold) for j in range(n)))
    matrix = TravelMatrix(ids=tuple(range(n)), minutes=tuple(minutes), metres=tuple(tuple(r) for r in dist))
    depot = Location(id=0, lat=0.0, lon=0.0, name="depot")
    resources = tuple(Resource(id=r, kind=ResourceKind.CAR, start=depot, cost_per_km=1) for r in range(1, m + 1))
    shifts = tuple(
        Shift(resource_id=r.id, day=0, window=TimeWindow(model.start, model.horizon), lunch=None) for r in resources
    )
    candidates = []
    for node in inst.nodes[1:]:
        w = model.window[node.id]
        opening = OpeningHours.weekly({0: [TimeWindow(w[0], w[1] + 1)]} if w else {})
        site = Site(id=node.id, commune_id=node.id, location=Location(id=node.id, lat=0.0, lon=0.0), opening=opening)
        candidates.append(Candidate(id=node.id, site=site, duration=1, prize=float(node.score)))
    return Problem(
        resources=resources,
        shifts=shifts,
        candidates=tuple(candidates),
        matrices={ResourceKind.CAR: matrix, ResourceKind.BUS: matrix},
        day_length=model.grid.day_length,
    )


def solve_ours(
    inst: ToptwInstance, m: int, seconds: float, search: OurSearch, model: GridModel, dist: Sequence[Sequence[int]]
) -> SolverRun:
    """Build the Problem and run :func:`routing.solver.solve` for ``seconds``."""
    from routing.solver import SearchProgress, solve

    trajectory: list[tuple[float, int]] = []

    def progress(p: SearchProgress) -> None:
        trajectory.append((p.elapsed_s, p.objective))

    problem = build_problem(inst, m, model, dist)
    plan = solve(problem, search.params(seconds), progress=progress)
    tours = [[v.candidate_id for v in route.visits] for route in plan.routes]
    return SolverRun("ours", tours, 0.0, plan.elapsed_s, plan.status.value, trajectory)


def score_of_objective(inst: ToptwInstance, objective: int, prize_scale: int = 100_000) -> int:
    """Score of one of our solutions from its objective (km cost < one prize unit)."""
    return inst.total_score - objective // prize_scale


# --------------------------------------------------------------------------- PyVRP


def _ticks(value: Fraction, k: int, up: bool) -> int:
    v = value * k
    return ceil_frac(v) if up else floor_frac(v)


def solve_pyvrp(
    inst: ToptwInstance,
    m: int,
    seconds: float,
    seed: int,
    dist: Sequence[Sequence[int]],
    model: GridModel | None = None,
) -> SolverRun:
    """PyVRP on the exact instance, or on our grid ``model`` (diagnosis: same data as ours)."""
    import numpy as np
    import pyvrp
    from pyvrp.stop import MaxRuntime

    k = 10**inst.decimals
    mdl = pyvrp.Model()
    locations = [mdl.add_location(float(node.x), float(node.y)) for node in inst.nodes]
    if model is None:
        depot_open, depot_close = _ticks(inst.nodes[0].open, k, True), _ticks(inst.horizon, k, False)
        duration = np.asarray(dist, dtype=np.int64)
        for i, node in enumerate(inst.nodes):
            duration[i, :] += _ticks(node.service, k, True) if i else 0
        duration[np.diag_indices_from(duration)] = 0
        windows = [(_ticks(n.open, k, True), _ticks(n.close, k, False)) for n in inst.nodes]
        services = [0] * len(inst.nodes)  # folded into the duration matrix like ours
    else:
        depot_open, depot_close = model.start, model.horizon
        duration = np.asarray(model.transit, dtype=np.int64)
        windows = [w if w else (1, 0) for w in model.window]
        services = [0] * len(inst.nodes)
    weight = m * int(depot_close - depot_open) + 1
    depot = mdl.add_depot(locations[0], tw_early=depot_open, tw_late=depot_close)
    clients: list[int] = []
    for node in inst.nodes[1:]:
        lo, hi = windows[node.id]
        if lo > hi:
            continue
        mdl.add_client(
            locations[node.id],
            service_duration=services[node.id],
            tw_early=lo,
            tw_late=hi,
            prize=node.score * weight,
            required=False,
        )
        clients.append(node.id)
    mdl.add_vehicle_type(m, start_depot=depot, end_depot=depot, tw_early=depot_open, tw_late=depot_close)
    data = mdl.data().replace(
        distance_matrices=[np.asarray(dist, dtype=np.int64)],
        duration_matrices=[duration],
    )
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, display=False, collect_stats=False)
    tours = [[clients[a.idx] for a in route if a.is_client()] for route in result.best.routes()]
    status = "feasible" if result.is_feasible() else "infeasible"
    name = "pyvrp" if model is None else "pyvrp@grid"
    return SolverRun(name, tours, 0.0, result.runtime, status, iterations=result.num_iterations)


# --------------------------------------------------------------------------- the run


@dataclass
class Row:
    """One (instance, m) of the table."""

    instance: str
    m: int
    n: int
    grid: str
    best_known: int | None
    ours: SolverRun
    ours_check: TourCheck
    pyvrp: SolverRun | None
    pyvrp_check: TourCheck | None
    grid_run: SolverRun | None = None
    grid_check: TourCheck | None = None
    first_score: int | None = None
    first_s: float | None = None
    best_s: float | None = None

    @property
    def ours_score(self) -> int:
        return self.ours_check.score if self.ours_check.feasible else 0

    @property
    def pyvrp_score(self) -> int | None:
        if self.pyvrp_check is None:
            return None
        return self.pyvrp_check.score if self.pyvrp_check.feasible else 0

    @property
    def grid_score(self) -> int | None:
        if self.grid_check is None:
            return None
        return self.grid_check.score if self.grid_check.feasible else 0


def run_one(
    inst: ToptwInstance, m: int, seconds: float, search: OurSearch, bks: int | None, *, pyvrp: bool, diagnose: bool
) -> Row:
    seed = search.seed
    dist = scaled_distances(inst)
    model = grid_model(inst, dist, search.day_length)
    ours = timed(lambda: solve_ours(inst, m, seconds, search, model, dist))
    ours_check = check_toptw(inst.nodes, inst.scores, ours.tours, m, inst.decimals)
    row = Row(inst.name, m, inst.n, model.grid.describe(), bks, ours, ours_check, None, None)
    if ours.trajectory:
        first_t, first_obj = ours.trajectory[0]
        row.first_score = score_of_objective(inst, first_obj)
        row.first_s = first_t
        row.best_s = ours.trajectory[-1][0]
    if pyvrp:
        row.pyvrp = timed(lambda: solve_pyvrp(inst, m, seconds, seed, dist))
        row.pyvrp_check = check_toptw(inst.nodes, inst.scores, row.pyvrp.tours, m, inst.decimals)
    if diagnose:
        row.grid_run = timed(lambda: solve_pyvrp(inst, m, seconds, seed, dist, model))
        row.grid_check = check_toptw(inst.nodes, inst.scores, row.grid_run.tours, m, inst.decimals)
    return row


def _flag(check: TourCheck | None) -> str:
    return "" if check is None or check.feasible else " [red]INFEASIBLE[/]"


def _summary(label: str, pairs: Sequence[tuple[int | None, int | None]]) -> str:
    """``label: mean gap, max gap, best known reached on k of n`` over (best known, score) pairs."""
    gaps = [g for g in (gap_max(b, v) for b, v in pairs) if g is not None]
    reached = sum(1 for b, v in pairs if b is not None and v is not None and v >= b)
    worst = max(gaps) if gaps else None
    reach = f"best known reached on {reached} of {len(pairs)}"
    return f"{label}: mean gap {fmt(mean(gaps), 2)} %, max {fmt(worst, 2)} %, {reach}"


def print_table(rows: Sequence[Row], seconds: float, diagnose: bool) -> None:
    out = console()
    columns = [
        ("instance", "left"), ("m", "right"), ("n", "right"), ("time grid", "left"), ("best known", "right"),
        ("ours", "right"), ("gap %", "right"), ("pyvrp", "right"), ("gap %", "right"),
        ("ours vs pyvrp %", "right"), ("ours s", "right"), ("pyvrp s", "right"),
    ]  # fmt: skip
    if diagnose:
        columns += [
            ("pyvrp@grid", "right"), ("ours 1st", "right"), ("1st at s", "right"), ("last impr. s", "right"),
        ]  # fmt: skip
    table = new_table(f"TOPTW, {seconds:g} s per solver and instance (checked scores; gap = below best known)", columns)
    for r in rows:
        cells = [
            r.instance, str(r.m), str(r.n), r.grid, fmt(r.best_known),
            f"{r.ours_score}{_flag(r.ours_check)}", fmt(gap_max(r.best_known, r.ours_score), 2),
            "" if r.pyvrp_score is None else f"{r.pyvrp_score}{_flag(r.pyvrp_check)}",
            fmt(gap_max(r.best_known, r.pyvrp_score), 2),
            fmt(gap_max(r.pyvrp_score, r.ours_score), 2),
            fmt(r.ours.wall_s, 1), fmt(r.pyvrp.wall_s if r.pyvrp else None, 1),
        ]  # fmt: skip
        if diagnose:
            cells += [
                "" if r.grid_score is None else f"{r.grid_score}{_flag(r.grid_check)}",
                fmt(r.first_score), fmt(r.first_s, 2), fmt(r.best_s, 1),
            ]  # fmt: skip
        table.add_row(*cells)
    out.print(table)
    with_bks = [r for r in rows if r.best_known is not None]
    if with_bks:
        out.print(_summary("ours ", [(r.best_known, r.ours_score) for r in with_bks]))
        if all(r.pyvrp is not None for r in with_bks):
            out.print(_summary("pyvrp", [(r.best_known, r.pyvrp_score) for r in with_bks]))
        if diagnose:
            grid_gaps = [gap_max(r.best_known, r.grid_score) for r in with_bks]
            first_gaps = [gap_max(r.best_known, r.first_score) for r in with_bks]
            out.print(
                f"pyvrp on our time grid: mean gap {fmt(mean(grid_gaps), 2)} %; "
                f"our first solution: mean gap {fmt(mean(first_gaps), 2)} %"
            )
    infeasible = [
        f"{r.instance} m={r.m} ({c.first_violation})"
        for r in rows
        for c in (r.ours_check, r.pyvrp_check)
        if c and not c.feasible
    ]
    if infeasible:
        out.print(f"[red]infeasible solutions (scored 0): {'; '.join(infeasible)}[/]")
    out.print(f"machine: {machine()}; {versions()}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="folder of TOPTW instance files (*.txt)")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per solver and instance")
    parser.add_argument("--m", default="1,2,3,4", help="numbers of tours, comma-separated (default 1,2,3,4)")
    parser.add_argument("--instances", help="only these instances, e.g. pr01,pr02")
    parser.add_argument("--bks", type=Path, help="best-known scores CSV (default: bks.csv in DATA or DATA/..)")
    parser.add_argument("--only-bks", action="store_true", help="skip (instance, m) pairs without a best known score")
    parser.add_argument("--pairs", help="explicit instance:m list, e.g. c101:1,pr01:2 (overrides --m)")
    parser.add_argument("--csv", type=Path, help="write one row per instance and m")
    add_search_arguments(parser, default_seed=0)
    parser.add_argument("--decimals", default="auto", help="distance truncation: auto (pr*: 2, else 1) or a number")
    parser.add_argument(
        "--diagnose", action="store_true", help="also run PyVRP on our time grid; show our first solution"
    )
    parser.add_argument("--skip-pyvrp", action="store_true", help="only our planner")


def main(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise SystemExit(f"--data {args.data}: not a folder")
    if not args.skip_pyvrp or args.diagnose:
        require_pyvrp()
    decimals = None if args.decimals == "auto" else int(args.decimals)
    bks_path = args.bks or find_file("bks.csv", [args.data, args.data.parent])
    bks = read_bks(bks_path) if bks_path else {}
    pairs: list[tuple[str, int]] | None = None
    if args.pairs:
        pairs = []
        for part in args.pairs.split(","):
            name, _, m = part.strip().partition(":")
            if not m.isdigit() or int(m) < 1:
                raise SystemExit(f"--pairs expects instance:m items, got {part!r}")
            pairs.append((name.lower(), int(m)))
        names = {name for name, _ in pairs}
    else:
        names = parse_names(args.instances)
    files = instance_files(args.data, names)
    if not files:
        raise SystemExit(f"no instance files in {args.data}")
    ms = parse_ints(args.m)
    out = console()
    rows: list[Row] = []
    for path in files:
        try:
            inst = read_toptw(path, decimals)
        except InstanceError as exc:
            out.print(f"[yellow]skipped {path.name}: {exc}[/]")
            continue
        todo = [m for (name, m) in pairs if name == inst.name.lower()] if pairs is not None else ms
        for m in todo:
            best = bks.get((inst.name.lower(), m))
            if args.only_bks and best is None:
                continue
            started = time.perf_counter()
            row = run_one(
                inst, m, args.seconds, search_from_args(args), best, pyvrp=not args.skip_pyvrp, diagnose=args.diagnose
            )
            rows.append(row)
            out.print(
                f"{inst.name} m={m}: ours {row.ours_score}{_flag(row.ours_check)}, pyvrp {fmt(row.pyvrp_score)}"
                f"{_flag(row.pyvrp_check)}, best known {fmt(best)} ({time.perf_counter() - started:.0f} s)",
                highlight=False,
            )
    print_table(rows, args.seconds, args.diagnose)
    if args.csv:
        header = ["instance", "m", "best_known", "ours", "pyvrp", "seconds", "ours_feasible", "pyvrp_feasible",
                  "ours_gap_pct", "pyvrp_gap_pct", "ours_wall_s", "pyvrp_wall_s", "time_grid", "pyvrp_grid",
                  "ours_first", "ours_first_s", "ours_last_improvement_s"]  # fmt: skip
        write_csv(
            args.csv,
            header,
            (
                [
                    r.instance,
                    r.m,
                    r.best_known,
                    r.ours_score,
                    r.pyvrp_score,
                    args.seconds,
                    r.ours_check.feasible,
                    None if r.pyvrp_check is None else r.pyvrp_check.feasible,
                    fmt(gap_max(r.best_known, r.ours_score), 3),
                    fmt(gap_max(r.best_known, r.pyvrp_score), 3),
                    fmt(r.ours.wall_s, 2),
                    fmt(r.pyvrp.wall_s if r.pyvrp else None, 2),
                    r.grid,
                    r.grid_score,
                    r.first_score,
                    fmt(r.first_s, 3),
                    fmt(r.best_s, 3),
                ]  # fmt: skip
                for r in rows
            ),
        )
        out.print(f"wrote {args.csv}")
    return 0
