"""OR-Tools' iterated local search and the parallel portfolio of searches."""

from __future__ import annotations

import dataclasses
import pickle
from multiprocessing import Pipe

from routing.descent import applies as descent_applies
from routing.params import SolveParams, Strategy
from routing.portfolio import _feed, better, worker_params
from routing.problem import Problem
from routing.result import Plan, SolveStatus
from routing.solver import solve, solve_single
from tests.unit.routing.checker import assert_feasible


def test_a_problem_survives_pickling_for_a_worker_process(valley_week: Problem) -> None:
    copy = pickle.loads(pickle.dumps(valley_week))

    assert copy == valley_week
    assert dict(copy.matrices) == dict(valley_week.matrices)
    for kind in {r.kind for r in valley_week.resources}:
        assert copy.matrix(kind) == valley_week.matrix(kind)


def test_workers_alternate_the_two_searches_with_their_own_seeds() -> None:
    params = SolveParams(strategy=Strategy.LNS, seed=7, workers=3)

    chosen = [worker_params(params, w) for w in range(3)]

    assert [p.strategy for p in chosen] == [Strategy.LNS, Strategy.ILS, Strategy.LNS]
    assert [p.seed for p in chosen] == [7, 8, 9]
    assert all(p.workers == 1 for p in chosen)
    mandatory = [worker_params(params, w, all_mandatory=True).strategy for w in range(2)]
    assert mandatory == [Strategy.ILS, Strategy.ORTOOLS]  # nothing to choose: no LNS
    ortools = SolveParams(strategy=Strategy.ORTOOLS, workers=2)
    assert {worker_params(ortools, w).strategy for w in range(2)} == {Strategy.ORTOOLS}
    focused = [worker_params(params, w, focused=True) for w in range(2)]
    assert [p.strategy for p in focused] == [Strategy.LNS, Strategy.LNS]  # focused LNS beats the ILS
    assert [p.seed for p in focused] == [7, 8]
    ils = SolveParams(strategy=Strategy.ILS, workers=2)
    assert [worker_params(ils, w, focused=True).strategy for w in range(2)] == [Strategy.ILS, Strategy.LNS]


def test_the_plan_with_the_lower_objective_wins() -> None:
    low = Plan(status=SolveStatus.FEASIBLE, routes=(), unserved=(), objective=5)
    high = dataclasses.replace(low, objective=9)
    none = dataclasses.replace(low, status=SolveStatus.NO_SOLUTION, objective=None)

    assert better(high, low) is low and better(low, high) is low
    assert better(none, high) is high and better(high, none) is high


def test_ils_plans_a_feasible_week(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=1.0, strategy=Strategy.ILS))

    assert plan.status is SolveStatus.FEASIBLE and plan.visits
    assert_feasible(valley_week, plan)


def test_ils_asked_to_re_plan_searches_from_the_previous_plan(valley_week: Problem) -> None:
    """OR-Tools' ILS cannot start from a given plan: the warm-started LNS path re-plans."""
    first = solve(valley_week, SolveParams(time_limit_s=0.5))

    again = solve(valley_week, SolveParams(time_limit_s=0.5, strategy=Strategy.ILS), initial=first)

    assert_feasible(valley_week, again)
    assert not [m for m in again.messages if "searched from scratch" in m]
    kept = {(r.resource_id, r.day, v.candidate_id) for r in again.routes for v in r.visits}
    before = {(r.resource_id, r.day, v.candidate_id) for r in first.routes for v in r.visits}
    assert len(kept & before) >= len(before) // 2  # the move bonus keeps most stops where they were


def test_the_portfolio_returns_the_best_of_its_workers(valley_week: Problem) -> None:
    """Step limits make every worker deterministic, so the winner is known in advance."""
    params = SolveParams(time_limit_s=30, seed=2, solution_limit=6, workers=2)
    # The week suits the compiled descent, so every worker runs the LNS with its own seed.
    assert descent_applies(valley_week, replanning=False)
    alone = [solve_single(valley_week, worker_params(params, w, focused=True)) for w in range(2)]

    plan = solve(valley_week, params)

    assert_feasible(valley_week, plan)
    assert not [m for m in plan.messages if "routing-worker" in m]
    assert plan.objective == min(p.objective for p in alone if p.objective is not None)


def test_the_portfolio_reports_progress_from_this_process(valley_week: Problem) -> None:
    seen: list[int] = []

    plan = solve(valley_week, SolveParams(time_limit_s=1.0, workers=2), progress=lambda p: seen.append(p.objective))

    assert seen and plan.objective is not None and plan.objective <= seen[-1]


def test_feeding_a_worker_that_is_gone_does_not_raise() -> None:
    receive, send = Pipe(duplex=False)
    receive.close()

    _feed(send, ("a payload", 1))  # BrokenPipe swallowed: the parent just gets no answer
