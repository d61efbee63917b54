"""`mobile-services scheduler` as operators run it: a separate process on the code under test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.fake_twilio import FakeTwilioServer

#: The `scheduler` command function itself, as `mobile-services scheduler` runs it.
SCHEDULER = "import typer; from mobile_services.cli.scheduler import scheduler; typer.run(scheduler)"
#: The worktree under test: `python -c` puts the working directory first on sys.path.
ROOT = Path(__file__).resolve().parents[2]


def start_scheduler(database_url: str, data_dir: Path, fake: FakeTwilioServer, **settings: str) -> subprocess.Popen[bytes]:
    """A scheduler process sending through the real Twilio client to ``fake``; output in data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MOBILE_SERVICES_DATABASE_URL": database_url,
        "MOBILE_SERVICES_DATA_DIR": str(data_dir),
        "MOBILE_SERVICES_SMS_BACKEND": "twilio",
        "MOBILE_SERVICES_TWILIO_ACCOUNT_SID": fake.account_sid,
        "MOBILE_SERVICES_TWILIO_AUTH_TOKEN": fake.auth_token,
        "MOBILE_SERVICES_TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32,
        "MOBILE_SERVICES_TWILIO_API_URL": fake.base_url,
        # no quiet hours: the test may run at night
        "MOBILE_SERVICES_QUIET_HOURS_START": "00:00",
        "MOBILE_SERVICES_QUIET_HOURS_END": "00:00",
        **{f"MOBILE_SERVICES_{name.upper()}": value for name, value in settings.items()},
    }
    env.pop("PYTHONPATH", None)
    with (data_dir / "output.txt").open("ab") as output:
        return subprocess.Popen([sys.executable, "-c", SCHEDULER], env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
