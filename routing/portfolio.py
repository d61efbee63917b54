"""Several searches of the same week at once, one per core; the best plan wins.

Why: on a 2-core machine one search leaves a core idle. Which searches run
(:func:`worker_params`): on large prize-collecting weeks, the LNS with focused steps
(:mod:`routing.focus`) with one seed per worker; on small ones, the LNS and OR-Tools' own
iterated local search, which fail on different instances; when every stop is mandatory,
the ILS and guided local search (``benchmarks/README.md`` has the measurements).

Worker 0 is the calling process (it reports progress); the others are child processes
started with ``spawn`` (never ``fork``: OR-Tools and the caller, a web server say, may hold
threads). A child gets the same :class:`~routing.problem.Problem` (plain picklable data),
another seed (and strategy), and the wall-clock deadline of the whole call so its
start-up counts against the budget. A child that fails or overruns is ignored: the plan of
worker 0 is always there.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection

from routing.descent import applies as descent_applies
from routing.focus import applies as focus_applies
from routing.params import SolveParams, Strategy
from routing.problem import Problem
from routing.result import Plan

_GRACE_S = 3.0  # extra seconds a child may take beyond the deadline before it is stopped
_MIN_CHILD_S = 0.5  # below this budget a child is not worth starting


def worker_params(
    params: SolveParams, worker: int, *, all_mandatory: bool = False, focused: bool = False
) -> SolveParams:
    """Parameters of worker ``worker``: alternate strategies, distinct seeds, one worker each.

    ``focused``: the LNS takes focused steps (:func:`routing.focus.applies`) or repairs with
    our compiled descent (:func:`routing.descent.applies`); it then beats OR-Tools' ILS and
    guided local search, and every worker runs it with its own seed. Otherwise, when every
    stop is mandatory (nothing to choose, only routes to shorten), the workers alternate the
    ILS and guided local search (VRPTW, 200-400 customers: ``benchmarks/README.md``).
    """
    strategy = params.strategy
    alternate = strategy is not Strategy.ORTOOLS and not (focused and strategy is Strategy.LNS)
    if all_mandatory and strategy is Strategy.LNS and not focused:
        strategy = (Strategy.ILS, Strategy.ORTOOLS)[worker % 2]
    elif alternate and worker % 2 == 1:
        strategy = Strategy.ILS if strategy is Strategy.LNS else Strategy.LNS
    return replace(params, strategy=strategy, seed=params.seed + worker, workers=1)


def better(a: Plan, b: Plan) -> Plan:
    """The plan with the lower objective (a plan without objective never wins)."""
    if b.objective is None:
        return a
    if a.objective is None or b.objective < a.objective:
        return b
    return a


def _child(inbox: Connection, conn: Connection) -> None:
    """Child process: read (problem, params, initial, deadline), answer a Plan, None or an error."""
    from routing.solver import solve_single

    try:
        problem, params, initial, deadline = inbox.recv()
        inbox.close()
        left = deadline - time.time()
        if left < _MIN_CHILD_S / 2:
            conn.send(None)
            return
        conn.send(solve_single(problem, replace(params, time_limit_s=left), None, initial))
    except BaseException as exc:  # report, never hang the parent
        conn.send(repr(exc))
    finally:
        conn.close()


def _feed(feed: Connection, payload: object) -> None:
    try:
        feed.send(payload)
    except OSError:  # the child is gone; solve_portfolio notices it has no answer
        pass
    finally:
        feed.close()


def solve_portfolio(
    problem: Problem,
    params: SolveParams,
    run_here: Callable[[SolveParams], Plan],
    initial: Plan | None,
) -> Plan:
    """Run ``params.workers`` searches in parallel and return the best plan.

    ``run_here(params)`` runs worker 0 in this process (with the caller's progress
    callback); the other workers run :func:`routing.solver.solve_single` in children.
    """
    deadline = time.time() + params.time_limit_s
    all_mandatory = all(c.mandatory for c in problem.candidates)
    # Nodes counted before the precheck (one per allowed visit); each worker's model decides
    # again on the nodes it really has.
    focused = focus_applies(problem, sum(c.max_visits for c in problem.candidates), replanning=initial is not None)
    # With our compiled descent as its repair the LNS beats every other search we have.
    focused = focused or descent_applies(problem, replanning=initial is not None)
    children: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    if params.time_limit_s >= _MIN_CHILD_S:
        ctx = multiprocessing.get_context("spawn")
        for worker in range(1, params.workers):
            inbox, feed = ctx.Pipe(duplex=False)
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(inbox, send), daemon=True, name=f"routing-worker-{worker}")
            try:
                proc.start()
            except OSError:  # no process to spare: this worker's search just does not happen
                continue
            inbox.close()
            send.close()
            # The payload goes through a pipe from a thread: a child that dies or stalls while
            # starting (a caller's main module without a ``__main__`` guard, say) cannot block
            # this process; it is simply not heard from.
            chosen = worker_params(params, worker, all_mandatory=all_mandatory, focused=focused)
            payload = (problem, chosen, initial, deadline)
            threading.Thread(target=_feed, args=(feed, payload), daemon=True).start()
            children.append((proc, receive))
    plan = run_here(worker_params(params, 0, all_mandatory=all_mandatory, focused=focused))
    notes: list[str] = []
    for proc, receive in children:
        outcome: object = None
        if receive.poll(max(0.0, deadline - time.time()) + _GRACE_S):
            try:
                outcome = receive.recv()
            except EOFError:
                outcome = "the worker stopped without an answer"
        else:
            outcome = "the worker overran its time limit"
        proc.join(0.5)
        if proc.is_alive():
            proc.terminate()
            proc.join()
        receive.close()
        if isinstance(outcome, Plan):
            plan = better(plan, outcome)
        elif isinstance(outcome, str):
            notes.append(f"{proc.name} ignored: {outcome}")
    if notes:
        plan = replace(plan, messages=plan.messages + tuple(notes))
    return plan
