"""How hard and how long to search, and how to weigh prizes against kilometres.

Kept apart from :class:`~routing.problem.Problem` because the same week can be solved
quickly for a preview and longer for publication, and because operators tune these in a
TOML file (:meth:`SolveParams.from_file`) without touching territory data.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any


class ParamsError(ValueError):
    """Solver parameters are invalid (unknown key, wrong type, out of range)."""


class Strategy(StrEnum):
    """How the search goes on after the first solution (see :mod:`routing.solver`)."""

    LNS = "lns"
    ILS = "ils"
    ORTOOLS = "ortools"


class FirstSolution(StrEnum):
    """Construction heuristics offered by OR-Tools that handle optional (prize) nodes well."""

    PARALLEL_CHEAPEST_INSERTION = "PARALLEL_CHEAPEST_INSERTION"
    LOCAL_CHEAPEST_INSERTION = "LOCAL_CHEAPEST_INSERTION"
    SEQUENTIAL_CHEAPEST_INSERTION = "SEQUENTIAL_CHEAPEST_INSERTION"
    PATH_CHEAPEST_ARC = "PATH_CHEAPEST_ARC"
    SAVINGS = "SAVINGS"
    AUTOMATIC = "AUTOMATIC"


@dataclass(frozen=True, kw_only=True)
class SolveParams:
    """Search control and objective weights.

    * ``time_limit_s``: wall-clock budget of the search (guided local search always uses
      all of it unless ``solution_limit`` stops it earlier).
    * ``seed``: permutes the order in which candidates become solver nodes. OR-Tools breaks
      ties by node order, so another seed explores another part of the space; the same seed
      and a ``solution_limit`` reproduce a run exactly.
    * ``strategy``: ``"lns"`` (default): ruin-and-recreate large neighbourhood search
      around OR-Tools (each step removes a few stops and lets OR-Tools' greedy descent
      repair the plan); ``"ils"``: OR-Tools' own iterated local search (ruin and recreate
      in C++); ``"ortools"``: OR-Tools' guided local search for the whole budget (the
      planner before November 2026).
    * ``workers``: searches run in parallel, one per core (:mod:`routing.portfolio`), each
      with its own seed; the best plan wins. With ``"lns"``: on large weeks every worker
      runs the LNS with focused steps (:mod:`routing.focus`), on small ones they alternate
      LNS and ILS, and when every stop is mandatory ILS and guided local search. 1
      (default) searches in this process only.
    * ``first_solution``: construction heuristic.
    * ``use_guided_local_search``: escape local optima (default); False stops at the first
      local optimum, which is fast and fine for previews and small tests.
    * ``solution_limit``: stop after this many solutions (None: only the time limit).
      With ``strategy = "lns"`` it counts ruin-and-recreate steps (each ends in one
      local optimum), so the same seed and limit reproduce a run exactly.
    * ``log_search``: OR-Tools search log on stderr.
    * ``prize_scale``: objective units per unit of prize. Kilometre costs are in euro
      cents, so 100 000 means one person served is worth 1 000 euros of driving: prizes
      dominate, kilometres only break ties between equally valuable plans.
    * ``move_penalty``: prize units lost when a re-plan moves a previously planned stop to
      another route-day (so a re-plan changes as little as needed).
    * ``shift_penalty_per_min``: objective units per minute a previously planned stop
      starts earlier or later than before.
    * ``fairness_per_week`` / ``fairness_max_factor``: see
      :func:`routing.problem.boosted_prize`.
    """

    time_limit_s: float = 20.0
    seed: int = 0
    strategy: Strategy = Strategy.LNS
    workers: int = 1
    first_solution: FirstSolution = FirstSolution.PARALLEL_CHEAPEST_INSERTION
    use_guided_local_search: bool = True
    solution_limit: int | None = None
    log_search: bool = False
    prize_scale: int = 100_000
    move_penalty: float = 0.2
    shift_penalty_per_min: int = 10
    fairness_per_week: float = 0.1
    fairness_max_factor: float = 3.0

    def __post_init__(self) -> None:
        if isinstance(self.time_limit_s, bool) or not isinstance(self.time_limit_s, (int, float)):
            raise ParamsError("time_limit_s must be a number of seconds")
        if not math.isfinite(self.time_limit_s) or self.time_limit_s <= 0:
            raise ParamsError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        for name in ("seed", "prize_scale", "shift_penalty_per_min", "workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParamsError(f"{name} must be an integer, got {value!r}")
        if self.seed < 0:
            raise ParamsError("seed must be >= 0")
        if not 1 <= self.prize_scale <= 10**7:
            raise ParamsError("prize_scale must be in 1..10**7 (larger overflows the objective)")
        if not 1 <= self.workers <= 64:
            raise ParamsError(f"workers must be in 1..64, got {self.workers}")
        if self.shift_penalty_per_min < 0:
            raise ParamsError("shift_penalty_per_min must be >= 0")
        if self.solution_limit is not None and (
            isinstance(self.solution_limit, bool)
            or not isinstance(self.solution_limit, int)
            or self.solution_limit < 1
        ):
            raise ParamsError("solution_limit must be a positive integer or None")
        try:
            object.__setattr__(self, "strategy", Strategy(self.strategy))
        except ValueError:
            choices = ", ".join(f.value for f in Strategy)
            raise ParamsError(f"strategy must be one of {choices}") from None
        try:
            object.__setattr__(self, "first_solution", FirstSolution(self.first_solution))
        except ValueError:
            choices = ", ".join(f.value for f in FirstSolution)
            raise ParamsError(f"first_solution must be one of {choices}") from None
        for name in ("use_guided_local_search", "log_search"):
            if not isinstance(getattr(self, name), bool):
                raise ParamsError(f"{name} must be true or false")
        for name in ("move_penalty", "fairness_per_week"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ParamsError(f"{name} must be a number >= 0")
        if self.fairness_max_factor < 1:
            raise ParamsError("fairness_max_factor must be >= 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SolveParams:
        """From a dict of field names (unknown keys are an error: they are typos)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParamsError(f"unknown solver parameters: {', '.join(unknown)}")
        return cls(**dict(values))

    @classmethod
    def from_file(cls, path: str | Path, *, table: str | None = None) -> SolveParams:
        """Read a TOML file; ``table`` picks a sub-table (e.g. ``"routing"``)."""
        with open(path, "rb") as fh:
            data: Any = tomllib.load(fh)
        if table is not None:
            for part in table.split("."):
                if not isinstance(data, dict) or part not in data:
                    raise ParamsError(f"{path}: no [{table}] table")
                data = data[part]
        if not isinstance(data, dict):
            raise ParamsError(f"{path}: [{table}] is not a table")
        return cls.from_mapping(data)
