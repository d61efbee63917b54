"""`mobile-services scheduler`: the timed jobs as their own process."""

from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler

from mobile_services.bootstrap import bootstrap
from mobile_services.cli.common import configure_logging, console, engine_scope, settings
from scheduler.runner import LeaderLock, add_jobs


def scheduler() -> None:
    """Lance les tâches planifiées : envoi des SMS dus toutes les 20 s, anonymisation la nuit.

    Sur PostgreSQL, plusieurs processus peuvent tourner : un seul (verrou consultatif)
    exécute les tâches, les autres prennent le relais s'il s'arrête.
    """
    current = settings()
    configure_logging(current.log_level)
    with engine_scope(current) as engine:
        lock = LeaderLock(engine)
        runner = BlockingScheduler(timezone=current.tz)
        add_jobs(runner, bootstrap(current, engine=engine), current, lock)
        console.print(f"Tâches planifiées lancées (envoi des SMS toutes les {current.dispatch_interval_seconds} s).")
        try:
            runner.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            lock.release()
