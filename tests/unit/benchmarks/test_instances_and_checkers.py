"""The benchmark parsers and the independent checker, on tiny hand-written instances.

``data/tiny4.txt`` (TOPTW, Solomon convention: distances truncated to 1 decimal, Tmax 100)::

    node  x   y   service score window
    0     0   0   -       -     [0, 100]  (depot)
    1     3   4   2       10    [0, 20]
    2     6   8   2       20    [10, 30]
    3    -3  -4   1       5     [50, 60]
    4     1   1   1       7     [0, 5]    (its line carries a 2-element list before O C)

``data/tiny3.vrp`` (VRPTW, DIMACS): the same first three points as customers 1, 2, 3 =
(3,4) demand 4, (6,8) demand 5, (1,1) demand 6; service 2; capacity 10; two vehicles.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from benchmarks.checkers import check_toptw, check_vrptw, truncated_distance
from benchmarks.common import OurSearch, TimeGrid
from benchmarks.toptw import InstanceError, read_bks, read_toptw, scaled_distances
from benchmarks.vrptw import read_vrplib, sol_cost
from benchmarks.vrptw import scaled_distances as vrptw_distances

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tiny4():  # type: ignore[no-untyped-def]
    """Four customers, one tour can take them all: 4, 1, 2, 3 scores 42."""
    return read_toptw(DATA / "tiny4.txt")


@pytest.fixture
def tiny3():  # type: ignore[no-untyped-def]
    """Three customers whose demands (4, 5, 6) need two vehicles of capacity 10."""
    return read_vrplib(DATA / "tiny3.vrp")


# --------------------------------------------------------------------------- distances


def test_truncated_distance_rounds_down_exactly() -> None:
    assert truncated_distance(Fraction(0), Fraction(0), Fraction(1), Fraction(1), 1) == Fraction(14, 10)
    assert truncated_distance(Fraction(0), Fraction(0), Fraction(1), Fraction(1), 2) == Fraction(141, 100)
    # 0.3, 0.4 -> exactly 0.5: floating point would risk 0.49 after truncation
    assert truncated_distance(Fraction("0"), Fraction("0"), Fraction("0.3"), Fraction("0.4"), 2) == Fraction(1, 2)
    assert truncated_distance(
        Fraction(-29730, 1000), Fraction(64136, 1000), Fraction(-10442, 1000), Fraction(19999, 1000), 2
    ) == Fraction(4816, 100)


def test_adapter_matrix_agrees_with_the_checker_on_every_pair(tiny4) -> None:  # type: ignore[no-untyped-def]
    dist = scaled_distances(tiny4)
    for a in tiny4.nodes:
        for b in tiny4.nodes:
            assert Fraction(dist[a.id][b.id], 10) == truncated_distance(a.x, a.y, b.x, b.y, 1)


# --------------------------------------------------------------------------- TOPTW


def test_toptw_file_is_parsed_with_window_as_last_two_tokens(tiny4) -> None:  # type: ignore[no-untyped-def]
    assert tiny4.name == "tiny4" and tiny4.n == 4 and tiny4.decimals == 1
    assert tiny4.horizon == 100
    four = tiny4.nodes[4]
    assert (four.x, four.y, four.service, four.score, four.open, four.close) == (1, 1, 1, 7, 0, 5)
    assert tiny4.scores == [0, 10, 20, 5, 7] and tiny4.total_score == 42


def test_pr_files_default_to_two_decimals_and_crlf_is_accepted(tmp_path: Path) -> None:
    text = (DATA / "tiny4.txt").read_text().replace("\n", "\r\n")
    (tmp_path / "pr99.txt").write_text(text)
    assert read_toptw(tmp_path / "pr99.txt").decimals == 2


def test_a_reversed_window_is_refused(tmp_path: Path) -> None:
    text = (DATA / "tiny4.txt").read_text().replace("0 0 0 50 60", "0 0 0 60 50")
    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(InstanceError, match="reversed"):
        read_toptw(tmp_path / "bad.txt")


def test_known_tours_score_what_the_hand_computation_says(tiny4) -> None:  # type: ignore[no-untyped-def]
    # 4 at 1.4-2.4, 1 at 6.0-8.0, 2 at 13.0-15.0, wait at 3 until 50, back at 56
    check = check_toptw(tiny4.nodes, tiny4.scores, [[4, 1, 2, 3]], 1, tiny4.decimals)
    assert check.feasible, check.violations
    assert check.score == 42
    assert check.distance == Fraction(14, 10) + Fraction(36, 10) + 5 + 15 + 5
    two = check_toptw(tiny4.nodes, tiny4.scores, [[1, 2], [3]], 2, tiny4.decimals)
    assert two.feasible and two.score == 35


def test_late_service_is_rejected(tiny4) -> None:  # type: ignore[no-untyped-def]
    # after 3 (served 50-51), customer 1 is reached at 61 > 20
    check = check_toptw(tiny4.nodes, tiny4.scores, [[3, 1]], 1, tiny4.decimals)
    assert not check.feasible
    assert "customer 1" in check.first_violation


def test_too_many_tours_duplicates_and_tour_limit_are_rejected(tiny4) -> None:  # type: ignore[no-untyped-def]
    assert not check_toptw(tiny4.nodes, tiny4.scores, [[1], [2]], 1, tiny4.decimals).feasible
    assert not check_toptw(tiny4.nodes, tiny4.scores, [[1], [1]], 2, tiny4.decimals).feasible
    short = tuple(n if n.id else type(n)(0, n.x, n.y, n.service, 0, n.open, Fraction(55)) for n in tiny4.nodes)
    late = check_toptw(short, tiny4.scores, [[3]], 1, tiny4.decimals)  # back at 56 > 55
    assert not late.feasible and "depot" in late.first_violation


def test_bks_file_is_read(tmp_path: Path) -> None:
    assert read_bks(DATA / "bks.csv") == {("tiny4", 1): 42}


# --------------------------------------------------------------------------- time grid


def test_time_grid_is_exact_with_a_long_enough_day_and_conservative_on_the_minute_grid() -> None:
    exact = TimeGrid.for_horizon(Fraction(100), 1)
    assert exact.exact and exact.factor == 10 and exact.up(Fraction("1.4")) == 14
    assert exact.day_length == 1440  # 1000 ticks fit the app's day
    long_day = TimeGrid.for_horizon(Fraction(1000), 2)
    assert long_day.exact and long_day.factor == 100 and long_day.day_length == 100_000
    assert long_day.up(Fraction("1.405")) == 141
    coarse = TimeGrid.for_horizon(Fraction(1000), 2, day_length=1440)
    assert not coarse.exact and coarse.factor == Fraction(1440, 1000) and coarse.day_length == 1440
    assert coarse.down(Fraction(1000)) == 1440
    assert coarse.up(Fraction("1.4")) == 3 and coarse.down(Fraction("1.4")) == 2


def test_our_planner_solves_the_tiny_instance_and_passes_the_checker(tiny4) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.toptw import grid_model, solve_ours

    # 2 decimals: 10 000 ticks, exact on a longer day, or coarse on the minute grid
    for decimals, day_length in ((1, None), (2, None), (2, 1440)):
        inst = read_toptw(DATA / "tiny4.txt", decimals)
        dist = scaled_distances(inst)
        model = grid_model(inst, dist, day_length)
        assert model.grid.exact == (day_length is None)
        run = solve_ours(inst, 1, 0.2, OurSearch(seed=0), model, dist)
        check = check_toptw(inst.nodes, inst.scores, run.tours, 1, inst.decimals)
        assert check.feasible, check.violations
        assert check.score == 42


# --------------------------------------------------------------------------- VRPTW


def test_vrplib_file_is_parsed_with_the_depot_first(tiny3) -> None:  # type: ignore[no-untyped-def]
    assert (tiny3.name, tiny3.n, tiny3.capacity, tiny3.vehicles) == ("tiny3", 3, 10, 2)
    assert tiny3.demands == [0, 4, 5, 6]
    assert [n.service for n in tiny3.nodes] == [0, 2, 2, 2]
    assert (tiny3.nodes[3].open, tiny3.nodes[3].close) == (0, 5)
    assert vrptw_distances(tiny3)[0][3] == 14


def test_a_feasible_vrptw_solution_has_the_hand_computed_distance(tiny3) -> None:  # type: ignore[no-untyped-def]
    # [3, 1]: 1.4 + 3.6 + 5 = 10, load 10; [2]: 10 + 10 = 20, load 5
    check = check_vrptw(tiny3.nodes, tiny3.demands, tiny3.capacity, tiny3.vehicles, [[3, 1], [2]])
    assert check.feasible, check.violations
    assert check.distance == 30


def test_vrptw_capacity_missing_customers_and_fleet_are_checked(tiny3) -> None:  # type: ignore[no-untyped-def]
    over = check_vrptw(tiny3.nodes, tiny3.demands, tiny3.capacity, tiny3.vehicles, [[3, 1, 2]])
    assert not over.feasible and "capacity" in over.first_violation
    missing = check_vrptw(tiny3.nodes, tiny3.demands, tiny3.capacity, tiny3.vehicles, [[3, 1]])
    assert not missing.feasible and "not visited" in " ".join(missing.violations)
    fleet = check_vrptw(tiny3.nodes, tiny3.demands, tiny3.capacity, tiny3.vehicles, [[3], [1], [2]])
    assert not fleet.feasible and "fleet" in fleet.first_violation


def test_our_vrptw_plan_respects_the_capacity_where_it_binds(tiny3) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.vrptw import build_problem, solve_ours

    dist = vrptw_distances(tiny3)
    problem, _ = build_problem(tiny3, dist)
    assert [c.load for c in problem.candidates] == [4, 5, 6]
    assert {s.capacity for s in problem.shifts} == {10}
    # [3, 1, 2] (20.0) is time-feasible but loads 15: only the capacity rules it out
    assert check_vrptw(tiny3.nodes, tiny3.demands, 10**6, tiny3.vehicles, [[3, 1, 2]]).feasible
    run, _ = solve_ours(tiny3, 0.5, OurSearch(seed=0), dist)
    check = check_vrptw(tiny3.nodes, tiny3.demands, tiny3.capacity, tiny3.vehicles, run.tours)
    assert check.feasible, check.violations
    assert check.distance == Fraction(228, 10)  # [3], [1, 2]: the optimum by hand


def test_sol_cost_reads_the_cost_line(tmp_path: Path) -> None:
    (tmp_path / "x.sol").write_text("Route #1: 3 1\nRoute #2: 2\nCost 30.0\n")
    assert sol_cost(tmp_path / "x.sol") == 30.0
    assert sol_cost(tmp_path / "missing.sol") is None
