"""Solver parameters: defaults, validation and TOML loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.params import FirstSolution, ParamsError, SolveParams, Strategy


def test_defaults_use_guided_local_search_with_a_time_limit() -> None:
    params = SolveParams()

    assert params.use_guided_local_search and params.time_limit_s == 20.0
    assert params.first_solution is FirstSolution.PARALLEL_CHEAPEST_INSERTION
    assert params.strategy is Strategy.LNS


def test_strategy_is_read_from_toml_as_a_string(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('strategy = "ortools"\n')

    assert SolveParams.from_file(path).strategy is Strategy.ORTOOLS


def test_from_file_reads_a_table_of_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('[routing]\ntime_limit_s = 5\nseed = 4\nfirst_solution = "SAVINGS"\nlog_search = true\n')

    params = SolveParams.from_file(path, table="routing")

    assert params == SolveParams(time_limit_s=5, seed=4, first_solution=FirstSolution.SAVINGS, log_search=True)


def test_from_file_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text("time_limit = 5\n")

    with pytest.raises(ParamsError, match="unknown solver parameters: time_limit"):
        SolveParams.from_file(path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"seed": -1}, "seed"),
        ({"first_solution": "BEST"}, "first_solution"),
        ({"strategy": "tabu"}, "strategy must be one of lns, ils, ortools"),
        ({"prize_scale": 10**9}, "overflow"),
        ({"solution_limit": 0}, "solution_limit"),
        ({"move_penalty": -1}, "move_penalty"),
    ],
)
def test_invalid_values_are_refused_with_a_clear_message(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        SolveParams(**kwargs)  # type: ignore[arg-type]
