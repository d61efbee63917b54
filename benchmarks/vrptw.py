"""VRPTW (Solomon, Gehring & Homberger): our planner versus PyVRP, same budget.

    python -m benchmarks vrptw --data DIR --seconds 10 [--instances R101,C101]
                               [--bks FILE] [--csv out.csv] [--seed 0] [--diagnose] [--skip-pyvrp]

Reads every ``*.vrp`` file of DIR (VRPLIB, ``TYPE : CVRPTW``, ``EDGE_WEIGHT_TYPE :
EUC_2D``), minimises total distance with every customer visited, under the DIMACS
convention (every arc truncated to one decimal; travel time = distance). The best known
distance comes from ``bks.csv`` (column ``bks_dist_dimacs``) in DIR, DIR/.. or DIR/../..,
or ``--bks``, else from ``NAME.sol`` next to the instance (``Cost X``).

Mapping onto our planner: one CAR resource per vehicle of the file (``VEHICLES``), one
shift each on day 0, every customer a *mandatory* candidate (prize 0), ``cost_per_km =
1000`` so the plan's cost is exactly the scaled distance (metres = ``floor(10 d)``).
Times go on the same :class:`~benchmarks.common.TimeGrid` as for TOPTW (exact unless
``--minute-grid``; service folded into the leg, 1-unit stops). Each customer's demand is its candidate's
``load`` and the file's ``CAPACITY`` every shift's ``capacity``, so our model's load
dimension enforces the capacity; the checker still verifies it (``cap!`` should never
appear). PyVRP gets the exact instance, capacity included.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from benchmarks.checkers import TourCheck, check_vrptw
from benchmarks.common import (
    OurSearch,
    add_search_arguments,
    search_from_args,
    SolverRun,
    TimeGrid,
    console,
    find_file,
    fmt,
    gap_min,
    machine,
    mean,
    new_table,
    parse_names,
    require_pyvrp,
    timed,
    versions,
    write_csv,
)
from benchmarks.toptw import InstanceError

DECIMALS = 1  # DIMACS convention


@dataclass(frozen=True)
class Node:
    """Node ``id`` (0 = depot) with coordinates, demand, service and window (original units)."""

    id: int
    x: Fraction
    y: Fraction
    demand: int
    service: Fraction
    open: Fraction
    close: Fraction


@dataclass(frozen=True)
class VrptwInstance:
    """A VRPTW instance: depot ``nodes[0]``, customers after it."""

    name: str
    nodes: tuple[Node, ...]
    capacity: int
    vehicles: int

    @property
    def n(self) -> int:
        return len(self.nodes) - 1

    @property
    def horizon(self) -> Fraction:
        return self.nodes[0].close

    @property
    def demands(self) -> list[int]:
        return [node.demand for node in self.nodes]


_SECTIONS = {"NODE_COORD_SECTION", "DEMAND_SECTION", "TIME_WINDOW_SECTION", "SERVICE_TIME_SECTION", "DEPOT_SECTION"}


def read_vrplib(path: str | Path) -> VrptwInstance:
    """Parse a VRPLIB CVRPTW file (LKH-3 / PyVRP-Instances style).

    Node numbers in the file are 1-based with the depot given in ``DEPOT_SECTION``
    (node 1 in every Solomon/GH file); the depot becomes node 0 and the others keep
    their order, so customer ``c`` of a ``.sol`` file is node ``c``.
    """
    path = Path(path)
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        key = line.split(":")[0].strip().upper() if ":" in line else line.split()[0].upper()
        if key in _SECTIONS:
            current = key
            sections[current] = []
            continue
        if ":" in line and current is None:
            k, _, v = line.partition(":")
            header[k.strip().upper()] = v.strip()
            continue
        if current is None:
            raise InstanceError(f"{path.name}: unexpected line {line!r}")
        sections[current].append(line.split())
    try:
        dimension = int(header["DIMENSION"])
        capacity = int(header.get("CAPACITY", "0"))
        vehicles = int(header.get("VEHICLES", str(dimension)))
    except (KeyError, ValueError) as exc:
        raise InstanceError(f"{path.name}: bad or missing header value ({exc})") from None
    if header.get("EDGE_WEIGHT_TYPE", "EUC_2D").upper() != "EUC_2D":
        raise InstanceError(f"{path.name}: only EDGE_WEIGHT_TYPE EUC_2D is supported")
    for needed in ("NODE_COORD_SECTION", "TIME_WINDOW_SECTION"):
        if needed not in sections:
            raise InstanceError(f"{path.name}: missing {needed}")

    def table(name: str, width: int) -> dict[int, list[str]]:
        rows = {}
        for tokens in sections.get(name, []):
            if len(tokens) < width:
                raise InstanceError(f"{path.name}: {name} line {' '.join(tokens)!r} is too short")
            rows[int(tokens[0])] = tokens[1:]
        return rows

    coords = table("NODE_COORD_SECTION", 3)
    windows = table("TIME_WINDOW_SECTION", 3)
    demands = table("DEMAND_SECTION", 2)
    services = table("SERVICE_TIME_SECTION", 2)
    depots = [int(tokens[0]) for tokens in sections.get("DEPOT_SECTION", []) if int(tokens[0]) > 0] or [1]
    depot = depots[0]
    if len(coords) != dimension:
        raise InstanceError(f"{path.name}: DIMENSION {dimension} but {len(coords)} coordinates")
    default_service = Fraction(header.get("SERVICE_TIME", "0"))
    order = [depot] + [i for i in sorted(coords) if i != depot]
    nodes = []
    for new_id, old in enumerate(order):
        if old not in windows:
            raise InstanceError(f"{path.name}: no time window for node {old}")
        service = Fraction(services[old][0]) if old in services else (Fraction(0) if old == depot else default_service)
        nodes.append(
            Node(
                id=new_id,
                x=Fraction(coords[old][0]),
                y=Fraction(coords[old][1]),
                demand=int(demands[old][0]) if old in demands else 0,
                service=service,
                open=Fraction(windows[old][0]),
                close=Fraction(windows[old][1]),
            )
        )
    return VrptwInstance(header.get("NAME", path.stem), tuple(nodes), capacity, vehicles)


def read_bks(folders: Sequence[Path], explicit: Path | None) -> dict[str, float]:
    """``{instance: best known DIMACS distance}`` from a ``bks.csv`` (``bks_dist_dimacs``)."""
    path = explicit or find_file("bks.csv", folders)
    if path is None:
        return {}
    out: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            value = row.get("bks_dist_dimacs") or row.get("best_known") or row.get("bks")
            if row.get("instance") and value:
                out[row["instance"].strip().lower()] = float(value)
    return out


def sol_cost(path: Path) -> float | None:
    """``Cost X`` of a ``.sol`` file, if any."""
    if not path.is_file():
        return None
    match = re.search(r"^\s*Cost\s+([0-9.]+)", path.read_text(encoding="utf-8"), re.MULTILINE | re.IGNORECASE)
    return float(match.group(1)) if match else None


# --------------------------------------------------------------------------- solvers


def scaled_distances(inst: VrptwInstance) -> list[list[int]]:
    """``floor(10 d)`` for every pair (exact integer arithmetic)."""
    from benchmarks.toptw import Node as TNode
    from benchmarks.toptw import ToptwInstance
    from benchmarks.toptw import scaled_distances as toptw_distances

    shim = ToptwInstance(
        inst.name, tuple(TNode(n.id, n.x, n.y, n.service, 0, n.open, n.close) for n in inst.nodes), DECIMALS
    )
    return toptw_distances(shim)


def build_problem(
    inst: VrptwInstance, dist: Sequence[Sequence[int]], day_length: int | None = None
) -> tuple[Any, TimeGrid]:
    """The instance as a :class:`routing.problem.Problem` (demand = load, CAPACITY per shift), and its grid."""
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

    grid = TimeGrid.for_horizon(inst.horizon, DECIMALS, day_length)
    k = 10**DECIMALS
    n = len(inst.nodes)
    start, horizon = grid.up(inst.nodes[0].open), grid.down(inst.horizon)
    minutes = []
    for i, node in enumerate(inst.nodes):
        service = node.service if i else Fraction(0)
        fold = 1 if i else 0  # the 1-minute stop at i is part of the transit
        minutes.append(
            tuple(0 if i == j else max(0, grid.up(service + Fraction(dist[i][j], k)) - fold) for j in range(n))
        )
    matrix = TravelMatrix(ids=tuple(range(n)), minutes=tuple(minutes), metres=tuple(tuple(r) for r in dist))
    depot = Location(id=0, lat=0.0, lon=0.0)
    resources = tuple(
        Resource(id=r, kind=ResourceKind.CAR, start=depot, cost_per_km=1000) for r in range(1, inst.vehicles + 1)
    )
    shifts = tuple(
        Shift(resource_id=r.id, day=0, window=TimeWindow(start, horizon), lunch=None, capacity=inst.capacity)
        for r in resources
    )
    candidates = []
    for node in inst.nodes[1:]:
        lo, hi = grid.up(node.open), min(grid.down(node.close), horizon - 1)
        opening = OpeningHours.weekly({0: [TimeWindow(lo, hi + 1)]} if lo <= hi else {})
        site = Site(id=node.id, commune_id=node.id, location=Location(id=node.id, lat=0.0, lon=0.0), opening=opening)
        candidates.append(Candidate(id=node.id, site=site, duration=1, prize=0.0, mandatory=True, load=node.demand))
    problem = Problem(
        resources=resources,
        shifts=shifts,
        candidates=tuple(candidates),
        matrices={ResourceKind.CAR: matrix, ResourceKind.BUS: matrix},
        day_length=grid.day_length,
    )
    return problem, grid


def solve_ours(
    inst: VrptwInstance, seconds: float, search: OurSearch, dist: Sequence[Sequence[int]]
) -> tuple[SolverRun, TimeGrid]:
    from routing.solver import SearchProgress, solve

    problem, grid = build_problem(inst, dist, search.day_length)
    trajectory: list[tuple[float, int]] = []

    def progress(p: SearchProgress) -> None:
        trajectory.append((p.elapsed_s, p.objective))

    plan = solve(problem, search.params(seconds), progress=progress)
    tours = [[v.candidate_id for v in route.visits] for route in plan.routes]
    return SolverRun("ours", tours, 0.0, plan.elapsed_s, plan.status.value, trajectory), grid


def solve_pyvrp(inst: VrptwInstance, seconds: float, seed: int, dist: Sequence[Sequence[int]]) -> SolverRun:
    import numpy as np
    import pyvrp
    from pyvrp.stop import MaxRuntime

    from benchmarks.common import ceil_frac, floor_frac

    k = 10**DECIMALS
    mdl = pyvrp.Model()
    locations = [mdl.add_location(float(n.x), float(n.y)) for n in inst.nodes]
    d0 = inst.nodes[0]
    depot = mdl.add_depot(locations[0], tw_early=ceil_frac(d0.open * k), tw_late=floor_frac(d0.close * k))
    for node in inst.nodes[1:]:
        mdl.add_client(
            locations[node.id],
            delivery=[node.demand],
            service_duration=ceil_frac(node.service * k),
            tw_early=ceil_frac(node.open * k),
            tw_late=floor_frac(node.close * k),
        )
    mdl.add_vehicle_type(
        inst.vehicles,
        capacity=[inst.capacity],
        start_depot=depot,
        end_depot=depot,
        tw_early=ceil_frac(d0.open * k),
        tw_late=floor_frac(d0.close * k),
    )
    matrix = np.asarray(dist, dtype=np.int64)
    data = mdl.data().replace(distance_matrices=[matrix], duration_matrices=[matrix])
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, display=False, collect_stats=False)
    tours = [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]
    status = "feasible" if result.is_feasible() else "infeasible"
    return SolverRun("pyvrp", tours, 0.0, result.runtime, status, iterations=result.num_iterations)


# --------------------------------------------------------------------------- the run


@dataclass
class Row:
    instance: str
    n: int
    grid: str
    best_known: float | None
    ours: SolverRun
    ours_check: TourCheck
    ours_tw_only: TourCheck
    pyvrp: SolverRun | None
    pyvrp_check: TourCheck | None
    first_distance: float | None = None
    first_s: float | None = None
    best_s: float | None = None

    @staticmethod
    def value(check: TourCheck | None) -> float | None:
        if check is None or not check.feasible:
            return None
        return float(check.distance)


def run_one(inst: VrptwInstance, seconds: float, search: OurSearch, best: float | None, *, pyvrp: bool) -> Row:
    seed = search.seed
    dist = scaled_distances(inst)
    holder: dict[str, TimeGrid] = {}

    def ours_run() -> SolverRun:
        run, grid = solve_ours(inst, seconds, search, dist)
        holder["grid"] = grid
        return run

    ours = timed(ours_run)
    check = check_vrptw(inst.nodes, inst.demands, inst.capacity, inst.vehicles, ours.tours, DECIMALS)
    relaxed = check_vrptw(inst.nodes, inst.demands, 10**12, inst.vehicles, ours.tours, DECIMALS)
    row = Row(inst.name, inst.n, holder["grid"].describe(), best, ours, check, relaxed, None, None)
    feasible_points = [(t, obj) for t, obj in ours.trajectory if obj < _distance_bound(dist)]
    if feasible_points:
        row.first_s, first = feasible_points[0]
        row.first_distance = first / 10**DECIMALS
        row.best_s = ours.trajectory[-1][0]
    if pyvrp:
        row.pyvrp = timed(lambda: solve_pyvrp(inst, seconds, seed, dist))
        row.pyvrp_check = check_vrptw(inst.nodes, inst.demands, inst.capacity, inst.vehicles, row.pyvrp.tours, DECIMALS)
    return row


def _distance_bound(dist: Sequence[Sequence[int]]) -> int:
    """Objective values below this visit every customer (an unserved mandatory costs more)."""
    return max(max(row) for row in dist) * (2 * len(dist) + 2)


def _cell(check: TourCheck | None, relaxed: TourCheck | None = None) -> str:
    if check is None:
        return ""
    if check.feasible:
        return f"{float(check.distance):.1f}"
    if relaxed is not None and relaxed.feasible:
        return f"[yellow]{float(relaxed.distance):.1f} cap![/]"
    return "[red]INFEASIBLE[/]"


def print_table(rows: Sequence[Row], seconds: float) -> None:
    out = console()
    table = new_table(
        f"VRPTW, {seconds:g} s per solver and instance (checked DIMACS distances; gap = above best known)",
        [
            ("instance", "left"),
            ("n", "right"),
            ("time grid", "left"),
            ("best known", "right"),
            ("ours", "right"),
            ("routes", "right"),
            ("gap %", "right"),
            ("pyvrp", "right"),
            ("routes", "right"),
            ("gap %", "right"),
            ("ours 1st", "right"),
            ("1st at s", "right"),
            ("last impr. s", "right"),
            ("ours s", "right"),
            ("pyvrp s", "right"),
        ],  # fmt: skip
    )
    for r in rows:
        ours_value = Row.value(r.ours_check)
        py_value = Row.value(r.pyvrp_check)
        table.add_row(
            r.instance, str(r.n), r.grid, fmt(r.best_known, 1),
            _cell(r.ours_check, r.ours_tw_only), str(r.ours_check.tours), fmt(gap_min(r.best_known, ours_value), 2),
            _cell(r.pyvrp_check), str(r.pyvrp_check.tours) if r.pyvrp_check else "",
            fmt(gap_min(r.best_known, py_value), 2),
            fmt(r.first_distance, 1), fmt(r.first_s, 2), fmt(r.best_s, 1),
            fmt(r.ours.wall_s, 1), fmt(r.pyvrp.wall_s if r.pyvrp else None, 1),
        )  # fmt: skip
    out.print(table)
    ours_ok = [r for r in rows if r.ours_check.feasible]
    out.print(
        f"ours : feasible on {len(ours_ok)} of {len(rows)}; mean gap over those "
        f"{fmt(mean(gap_min(r.best_known, Row.value(r.ours_check)) for r in ours_ok), 2)} %"
    )
    if all(r.pyvrp_check is not None for r in rows):
        py_ok = [r for r in rows if r.pyvrp_check and r.pyvrp_check.feasible]
        out.print(
            f"pyvrp: feasible on {len(py_ok)} of {len(rows)}; mean gap over those "
            f"{fmt(mean(gap_min(r.best_known, Row.value(r.pyvrp_check)) for r in py_ok), 2)} %"
        )
    for r in rows:
        for who, check in (("ours", r.ours_check), ("pyvrp", r.pyvrp_check)):
            if check is not None and not check.feasible:
                out.print(f"[red]{r.instance} {who}: {'; '.join(check.violations[:3])}[/]", highlight=False)
    out.print("cap! = time windows and visits fine, vehicle capacity exceeded (a bug: our model has a load dimension)")
    out.print(f"machine: {machine()}; {versions()}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="folder of VRPLIB .vrp files")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per solver and instance")
    parser.add_argument("--instances", help="only these instances, e.g. R101,C101")
    parser.add_argument("--bks", type=Path, help="best-known CSV (default: bks.csv in DATA, DATA/.. or DATA/../..)")
    parser.add_argument("--csv", type=Path, help="write one row per instance")
    add_search_arguments(parser, default_seed=0)
    parser.add_argument("--skip-pyvrp", action="store_true", help="only our planner")


def main(args: argparse.Namespace) -> int:
    folders = [Path(p) for p in str(args.data).split(",")]
    for folder in folders:
        if not folder.is_dir():
            raise SystemExit(f"--data {folder}: not a folder")
    if not args.skip_pyvrp:
        require_pyvrp()
    names = parse_names(args.instances)
    files = [p for folder in folders for p in sorted(folder.glob("*.vrp")) if names is None or p.stem.lower() in names]
    if not files:
        raise SystemExit(f"no .vrp files in {args.data}")
    out = console()
    rows: list[Row] = []
    for path in files:
        try:
            inst = read_vrplib(path)
        except InstanceError as exc:
            out.print(f"[yellow]skipped {path.name}: {exc}[/]")
            continue
        bks = read_bks([path.parent, path.parent.parent, path.parent.parent.parent], args.bks)
        best = bks.get(inst.name.lower(), bks.get(path.stem.lower()))
        if best is None:
            best = sol_cost(path.with_suffix(".sol"))
        row = run_one(inst, args.seconds, search_from_args(args), best, pyvrp=not args.skip_pyvrp)
        rows.append(row)
        out.print(
            f"{inst.name}: ours {_cell(row.ours_check, row.ours_tw_only)}, pyvrp {_cell(row.pyvrp_check)}, "
            f"best known {fmt(best, 1)}",
            highlight=False,
        )
    print_table(rows, args.seconds)
    if args.csv:
        write_csv(
            args.csv,
            [
                "instance",
                "n",
                "best_known",
                "ours",
                "pyvrp",
                "seconds",
                "ours_feasible",
                "ours_without_capacity",
                "ours_routes",
                "pyvrp_routes",
                "ours_gap_pct",
                "pyvrp_gap_pct",
                "ours_wall_s",
                "pyvrp_wall_s",
                "time_grid",
                "ours_first",
                "ours_first_s",
                "ours_last_improvement_s",
            ],  # fmt: skip
            (
                [
                    r.instance,
                    r.n,
                    r.best_known,
                    fmt(Row.value(r.ours_check), 1),
                    fmt(Row.value(r.pyvrp_check), 1),
                    args.seconds,
                    r.ours_check.feasible,
                    fmt(float(r.ours_tw_only.distance), 1) if r.ours_tw_only.feasible else None,
                    r.ours_check.tours,
                    r.pyvrp_check.tours if r.pyvrp_check else None,
                    fmt(gap_min(r.best_known, Row.value(r.ours_check)), 3),
                    fmt(gap_min(r.best_known, Row.value(r.pyvrp_check)), 3),
                    fmt(r.ours.wall_s, 2),
                    fmt(r.pyvrp.wall_s if r.pyvrp else None, 2),
                    r.grid,
                    r.first_distance,
                    fmt(r.first_s, 3),
                    fmt(r.best_s, 3),
                ]  # fmt: skip
                for r in rows
            ),
        )
        out.print(f"wrote {args.csv}")
    return 0
