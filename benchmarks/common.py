"""Pieces shared by the routing benchmarks: time grid, solver runs, tables, CSV, BKS files."""

from __future__ import annotations

import csv
import math
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.table import Table

MINUTES_PER_DAY = 1440
# Longest day (in time units) an exact benchmark grid may ask the planner for: 10**7
# covers a horizon of 100 000 in hundredths, far beyond the public instances.
MAX_EXACT_DAY = 10_000_000


@dataclass(frozen=True)
class OurSearch:
    """How our planner searches in a benchmark run (``--seed``, ``--strategy``, ``--workers``).

    PyVRP takes the seed only (it searches on one core). ``minute_grid`` puts the
    instance on the one-day minute grid of the app instead of an exact grid (see
    :class:`TimeGrid`), to measure what exactness is worth.
    """

    seed: int = 0
    strategy: str = "lns"
    workers: int = 1
    minute_grid: bool = False

    @property
    def day_length(self) -> int | None:
        """The day length to force on :meth:`TimeGrid.for_horizon` (None: exact)."""
        return MINUTES_PER_DAY if self.minute_grid else None

    def params(self, seconds: float):  # type: ignore[no-untyped-def]
        """Our :class:`routing.params.SolveParams` for a budget of ``seconds``."""
        from routing.params import SolveParams

        return SolveParams(time_limit_s=seconds, seed=self.seed, strategy=self.strategy, workers=self.workers)


def add_search_arguments(parser, default_seed: int) -> None:  # type: ignore[no-untyped-def]
    """``--seed``, ``--strategy`` and ``--workers`` (see :class:`OurSearch`)."""
    parser.add_argument("--seed", type=int, default=default_seed)
    parser.add_argument(
        "--strategy",
        choices=("lns", "ils", "ortools"),
        default="lns",
        help="our search (default lns; with --workers 2 see routing.portfolio.worker_params)",
    )
    parser.add_argument("--workers", type=int, default=1, help="parallel searches of our planner (default 1)")
    parser.add_argument(
        "--minute-grid",
        action="store_true",
        help="round times to whole minutes of one day (the first rounds' grid) instead of an exact time unit",
    )


def search_from_args(args) -> OurSearch:  # type: ignore[no-untyped-def]
    return OurSearch(
        seed=args.seed, strategy=args.strategy, workers=args.workers, minute_grid=getattr(args, "minute_grid", False)
    )


def ceil_frac(value: Fraction) -> int:
    """Smallest integer >= ``value``."""
    return -((-value.numerator) // value.denominator)


def floor_frac(value: Fraction) -> int:
    """Largest integer <= ``value``."""
    return value.numerator // value.denominator


@dataclass(frozen=True)
class TimeGrid:
    """How original time units become the planner's integer time units.

    Our planner counts time in integers, ``day_length`` of them per day
    (:attr:`routing.problem.Problem.day_length`; minutes, 1440, in the app). A benchmark
    horizon ``H`` (e.g. TOPTW pr: 1000, Solomon c2: 3390) with ``d``-decimal distances
    needs ``H * 10**d`` ticks to be exact: the grid is exact (``factor = 10**d``) with a
    day of at least that many units, up to :data:`MAX_EXACT_DAY`. Beyond that, or with
    ``day_length=1440`` forced (the one-day minute grid of the first rounds, kept to
    measure what exactness is worth), the grid is coarser, ``factor = day_length / H``
    units per original unit, and every conversion is *conservative*: travel (+ service)
    rounded up, window openings rounded up, closings and the horizon rounded down. A plan
    feasible on the grid is then feasible in the original units (the checker verifies it),
    but some feasible original plans are lost.
    """

    factor: Fraction
    exact: bool
    day_length: int = MINUTES_PER_DAY

    @classmethod
    def for_horizon(cls, horizon: Fraction, decimals: int, day_length: int | None = None) -> TimeGrid:
        """The exact grid when it fits ``day_length`` (default: as long a day as needed)."""
        exact_factor = Fraction(10**decimals)
        ticks = ceil_frac(max(horizon, Fraction(0)) * exact_factor)
        limit = MAX_EXACT_DAY if day_length is None else day_length
        if ticks <= limit:
            return cls(exact_factor, True, max(ticks, MINUTES_PER_DAY) if day_length is None else day_length)
        day = limit
        return cls(Fraction(day) / horizon, False, day)

    def up(self, value: Fraction) -> int:
        """``value`` on the grid, rounded up."""
        return ceil_frac(value * self.factor)

    def down(self, value: Fraction) -> int:
        """``value`` on the grid, rounded down."""
        return floor_frac(value * self.factor)

    def describe(self) -> str:
        """``x10 exact`` or ``x1.44 (rounded)`` for tables."""
        f = float(self.factor)
        return f"x{f:g} exact" if self.exact else f"x{f:.3g} rounded"


@dataclass
class SolverRun:
    """What one solver produced on one instance, before checking.

    ``tours`` are lists of instance node ids. ``trajectory`` holds ``(seconds since the
    search started, objective)`` of each improving solution when the solver reports them.
    """

    solver: str
    tours: list[list[int]]
    wall_s: float
    search_s: float | None = None
    status: str = ""
    trajectory: list[tuple[float, int]] = field(default_factory=list)
    iterations: int | None = None
    note: str = ""


def timed(fn: Callable[[], SolverRun]) -> SolverRun:
    """Run ``fn`` and set its wall time (build + search)."""
    started = time.perf_counter()
    run = fn()
    run.wall_s = time.perf_counter() - started
    return run


def gap_max(best_known: float | None, value: float | None) -> float | None:
    """Percentage below the best known score (maximisation); None when unknown."""
    if best_known is None or value is None or best_known == 0:
        return None
    return 100.0 * (best_known - value) / best_known


def gap_min(best_known: float | None, value: float | None) -> float | None:
    """Percentage above the best known cost (minimisation); None when unknown."""
    if best_known is None or value is None or best_known == 0:
        return None
    return 100.0 * (value - best_known) / best_known


def fmt(value: float | int | None, digits: int = 1, suffix: str = "") -> str:
    """A table cell: '' for None, fixed decimals otherwise."""
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the known values."""
    known = [v for v in values if v is not None and not math.isnan(v)]
    return sum(known) / len(known) if known else None


def find_file(name: str, folders: Sequence[Path]) -> Path | None:
    """First ``folder / name`` that exists."""
    for folder in folders:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def parse_names(text: str | None) -> set[str] | None:
    """``"pr01,pr02"`` -> ``{"pr01", "pr02"}`` (case-insensitive), None for all."""
    if not text:
        return None
    return {part.strip().lower() for part in text.split(",") if part.strip()}


def parse_ints(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise SystemExit(f"expected positive integers, got {text!r}")
    return values


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Plain CSV with a header line."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])


def machine() -> str:
    """One line about where the figures were measured."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def versions() -> str:
    """Versions of the two solvers."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("ortools", "pyvrp"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def new_table(title: str, columns: Sequence[tuple[str, str]]) -> Table:
    """A rich table with (header, justify) columns."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for header, justify in columns:
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    return table


def console() -> Console:
    """Console for the benchmark output (wide enough not to wrap the tables)."""
    return Console(width=200)


def require_pyvrp() -> None:
    """Fail early with the install hint when the comparator is missing."""
    try:
        import pyvrp  # noqa: F401
    except ImportError:
        raise SystemExit("PyVRP is the comparator: pip install -e '.[bench]' (or pip install pyvrp)") from None
