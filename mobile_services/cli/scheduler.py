"""`mobile-services scheduler`: the timed jobs as their own process."""

from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler

from mobile_services.bootstrap import bootstrap
from mobile_services.cli.common import configure_logging, console, engine_scope, settings
from scheduler.runner import add_jobs, leader_lock


def scheduler() -> None:
    """Lance les tâches planifiées : envoi des SMS dus toutes les 20 s, vérification auprès
    de Twilio des SMS à l'issue incertaine, anonymisation la nuit.

    Plusieurs processus peuvent tourner : un seul (verrou consultatif sur PostgreSQL,
    fichier verrou sur SQLite) exécute les tâches, les autres prennent le relais s'il s'arrête.
    """
    current = settings()
    configure_logging(current.log_level)
    with engine_scope(current) as engine:
        lock = leader_lock(engine)
        runner = BlockingScheduler(timezone=current.tz)
        add_jobs(runner, bootstrap(current, engine=engine), current, lock)
        console.print(f"Tâches planifiées lancées (envoi des SMS toutes les {current.dispatch_interval_seconds} s).")
        try:
            runner.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            lock.release()
