"""`serve` as an operator runs it: a separate process, a fresh database, real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# The `serve` command function itself, as `mobile-services serve` runs it (no console script needed).
SERVE = "import typer; from mobile_services.cli.serve import serve; typer.run(serve)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(port: int, database_url: str, data_dir: Path, **settings: str) -> subprocess.Popen[str]:
    """`serve` in its own process on ``port``, with MOBILE_SERVICES_<NAME> settings."""
    env = {
        **os.environ,
        "MOBILE_SERVICES_DATABASE_URL": database_url,
        "MOBILE_SERVICES_DATA_DIR": str(data_dir),
        **{f"MOBILE_SERVICES_{name.upper()}": value for name, value in settings.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-c", SERVE, "--port", str(port)],
        env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_serve_migrates_a_fresh_database_and_answers(tmp_path: Path, empty_database_url: str) -> None:
    port = free_port()
    process = start_serve(
        port, empty_database_url, tmp_path / "data", twilio_auth_token="serve0123456789abcdef0123456789"
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else "serve exited"
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start within a minute"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        unsigned = httpx.post(f"{base}/sms/inbound", data={"MessageSid": "SM1", "From": "+33612345678", "To": "+33939000000"})
        assert unsigned.status_code == 403
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "Application web sur http://127.0.0.1" in output
    assert "+33612345678" not in output, "no phone number in the logs"


def test_serve_runs_the_scheduler_that_sends_due_sms(tmp_path: Path, empty_database_url: str) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session, select

    from mobile_services.storage import tables as t
    from mobile_services.storage.db import make_engine, session_scope, upgrade

    database_url = empty_database_url
    upgrade(database_url)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        session.add(
            t.Message(recipient="+33612345678", kind="confirmation", body="RDV confirmé : test", idempotency_key="serve-1",
                      due_at=datetime.now(UTC))
        )
    process = start_serve(free_port(), database_url, tmp_path / "data", dispatch_interval_seconds="5")
    try:
        deadline = time.monotonic() + 60
        status = "pending"
        while status in ("pending", "sending") and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else "serve exited"
            time.sleep(0.5)
            with Session(engine) as session:
                status = session.exec(select(t.Message.status)).one()
        assert status == "sent"
        assert "RDV confirmé : test" in (tmp_path / "data" / "sms-outbox.log").read_text(encoding="utf-8")
    finally:
        process.terminate()
        process.communicate(timeout=20)
        engine.dispose()
