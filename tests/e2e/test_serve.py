"""`serve` as an operator runs it: a separate process, a fresh database, real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# `serve` is registered in mobile_services.cli.main by its owner; run the function itself.
SERVE = "import typer; from mobile_services.cli.serve import serve; typer.run(serve)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_migrates_a_fresh_database_and_answers(tmp_path: Path, empty_database_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MOBILE_SERVICES_DATABASE_URL": empty_database_url,
        "MOBILE_SERVICES_DATA_DIR": str(tmp_path / "data"),
        "MOBILE_SERVICES_TWILIO_AUTH_TOKEN": "serve0123456789abcdef0123456789",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "--port", str(port)],
        env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
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
    port = free_port()
    env = {
        **os.environ,
        "MOBILE_SERVICES_DATABASE_URL": database_url,
        "MOBILE_SERVICES_DATA_DIR": str(tmp_path / "data"),
        "MOBILE_SERVICES_DISPATCH_INTERVAL_SECONDS": "5",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "--port", str(port)],
        env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
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
