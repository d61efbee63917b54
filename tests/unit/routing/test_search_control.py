"""Time limit, seed, progress reports and status."""

from __future__ import annotations

from routing.params import FirstSolution, SolveParams, Strategy
from routing.problem import Problem
from routing.result import SolveStatus
from routing.solver import SearchProgress, solve


def test_progress_reports_strictly_improving_solutions(valley_week: Problem) -> None:
    seen: list[SearchProgress] = []

    plan = solve(valley_week, SolveParams(time_limit_s=0.5), progress=seen.append)

    assert seen, "at least the first solution is reported"
    objectives = [p.objective for p in seen]
    assert objectives == sorted(objectives, reverse=True) and len(set(objectives)) == len(objectives)
    assert seen[-1].objective == plan.objective
    assert seen[-1].served == len(plan.visits)
    assert all(0 <= p.elapsed_s <= 0.5 + 0.5 for p in seen)


def test_a_failing_progress_callback_does_not_break_the_solve(three_communes: Problem) -> None:
    def broken(_: SearchProgress) -> None:
        raise RuntimeError("dashboard is down")

    plan = solve(three_communes, SolveParams(time_limit_s=0.3), progress=broken)

    assert plan.is_feasible()
    assert any("progress callback failed" in m for m in plan.messages)


def test_time_limit_bounds_the_search(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=0.4))

    assert plan.elapsed_s <= 1.0


def test_same_seed_and_solution_limit_reproduce_the_plan(valley_week: Problem) -> None:
    params = SolveParams(time_limit_s=5, seed=3, solution_limit=8)

    first, second = solve(valley_week, params), solve(valley_week, params)

    assert first.routes == second.routes and first.objective == second.objective


def test_seed_changes_the_node_order_but_not_feasibility(valley_week: Problem) -> None:
    from tests.unit.routing.checker import assert_feasible

    for seed in (1, 2):
        plan = solve(valley_week, SolveParams(time_limit_s=0.3, seed=seed))
        assert_feasible(valley_week, plan)


def test_guided_local_search_reports_feasible_not_optimal(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=0.3))

    assert plan.status is SolveStatus.FEASIBLE


def test_other_first_solution_strategies_work(three_communes: Problem) -> None:
    for strategy in (FirstSolution.SAVINGS, FirstSolution.LOCAL_CHEAPEST_INSERTION, FirstSolution.PATH_CHEAPEST_ARC):
        plan = solve(three_communes, SolveParams(time_limit_s=0.2, first_solution=strategy, use_guided_local_search=False))
        assert len(plan.visits) == 3, strategy


def test_plain_ortools_strategy_still_plans_the_week(valley_week: Problem) -> None:
    from tests.unit.routing.checker import assert_feasible

    plan = solve(valley_week, SolveParams(time_limit_s=0.3, strategy=Strategy.ORTOOLS))

    assert_feasible(valley_week, plan)
    assert plan.status is SolveStatus.FEASIBLE


def test_large_neighbourhood_search_is_at_least_as_good_as_its_first_local_optimum(valley_week: Problem) -> None:
    first = solve(valley_week, SolveParams(time_limit_s=2, use_guided_local_search=False))
    searched = solve(valley_week, SolveParams(time_limit_s=2, solution_limit=30))

    assert searched.objective is not None and first.objective is not None
    assert searched.objective <= first.objective


def test_step_limit_stops_the_search_before_the_time_limit(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=30, solution_limit=3))

    assert plan.elapsed_s < 5 and plan.is_feasible()
