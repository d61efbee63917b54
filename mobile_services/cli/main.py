"""Top-level `mobile-services` command: sub-apps per resource, plus the demo."""

from __future__ import annotations

from mobile_services.cli import config as config_cli
from mobile_services.cli import db as db_cli
from mobile_services.cli import incidents as incidents_cli
from mobile_services.cli import links as links_cli
from mobile_services.cli import sms as sms_cli
from mobile_services.cli import territory as territory_cli
from mobile_services.cli.common import CommandLine, command_logging
from mobile_services.cli.demo import demo
from mobile_services.cli.planning import pin, plan, publish, unpin
from mobile_services.cli.poster import poster
from mobile_services.cli.walk_in import walk_in
from mobile_services.cli.scheduler import scheduler
from mobile_services.cli.serve import serve

app = CommandLine(
    help="mobile-services : planifier et faire tourner les services publics itinérants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.callback()(command_logging)  # logs to the file, the terminal kept for French (common.py)
app.add_typer(db_cli.app, name="db")
app.add_typer(config_cli.app, name="config")
territory_cli.app.command("walk-in")(walk_in)
app.add_typer(territory_cli.app, name="territory")
app.add_typer(sms_cli.app, name="sms")
app.add_typer(incidents_cli.app, name="incident")
app.add_typer(incidents_cli.week_app, name="week")
app.add_typer(links_cli.app, name="links")
app.command()(demo)
app.command()(plan)
app.command()(publish)
app.command()(poster)
app.command()(pin)
app.command()(unpin)
app.command()(serve)
app.command()(scheduler)
