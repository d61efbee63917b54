"""Plan helpers: KPIs, summary, feasibility flag."""

from __future__ import annotations

from routing.params import SolveParams
from routing.problem import Problem
from routing.result import SolveStatus
from routing.solver import solve


def test_kpis_add_up_over_routes(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=0.3))

    k = plan.kpis()
    assert k.visits == len(plan.visits) and k.routes == len(plan.routes)
    assert k.candidates_served + k.candidates_unserved == len(valley_week.candidates)
    assert k.km == round(sum(r.km for r in plan.routes), 3)
    assert k.cost == plan.cost() and 0 < k.service_share <= 1
    assert set(k.as_dict()) >= {"visits", "km", "prize_served"}


def test_summary_lists_routes_unserved_and_notes(valley_week: Problem) -> None:
    plan = solve(valley_week, SolveParams(time_limit_s=0.3))

    text = plan.summary()
    assert text.startswith("status feasible")
    assert "resource 1" in text and "lunch" in text
    assert "bus 2 on Wed" not in text  # Wednesday bus 2 was simply absent, not crewless


def test_is_feasible_only_for_optimal_or_feasible(three_communes: Problem) -> None:
    plan = solve(three_communes, SolveParams(time_limit_s=0.2))

    assert plan.is_feasible()
    assert plan.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
