"""`serve` as an operator runs it: a separate process, a fresh database, real HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")

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
    assert f"Application web sur http://127.0.0.1:{port}" in output
    assert "+33612345678" not in output, "no phone number in the logs"
    # INFO lines (uvicorn's start-up among them) go to the file; once serving, the terminal shows
    # warnings live, for the operator: here the unsigned webhook.
    assert [line for line in output.splitlines() if LOG_LINE.search(line)] == [
        "WARNING mobile_services.web.deps: webhook /sms/inbound refused: missing signature"
    ]
    log = (tmp_path / "data" / "mobile-services.log").read_text(encoding="utf-8")
    assert f"INFO mobile_services.cli.serve: web app listening on 127.0.0.1:{port}" in log
    assert "INFO uvicorn.error: Application startup complete." in log
    assert "+33612345678" not in log, "no phone number in the log file"


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


def run_serve_expecting_failure(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`serve ARGS` that should stop at once: stdout and stderr apart, a deadline as a safety net."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOBILE_SERVICES_")}
    env["MOBILE_SERVICES_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-c", SERVE, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def assert_one_french_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0
    assert result.stdout == "", "nothing announced: no success line, no warning about Twilio"
    assert result.stderr.splitlines() == [expected]


def test_serve_on_a_busy_port_says_so_in_one_french_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_serve_expecting_failure(tmp_path, "--port", str(port))
    assert_one_french_line(
        result,
        f"Le port {port} est déjà utilisé sur 127.0.0.1 (un autre serveur tourne peut-être) : "
        "choisissez-en un autre avec --port.",
    )
    assert "Application web sur" not in result.stdout + result.stderr
    log = (tmp_path / "data" / "mobile-services.log").read_text(encoding="utf-8")
    assert f"cannot listen on 127.0.0.1:{port}: EADDRINUSE" in log
    assert not (tmp_path / "data" / "mobile-services.db").exists(), "stopped before touching the database"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("192.0.2.1", "L'adresse 192.0.2.1 n'est pas une adresse de cette machine"),  # TEST-NET-1, nobody's
        ("no-such-host.invalid", "Adresse d'écoute « no-such-host.invalid » inconnue"),
    ],
)
def test_serve_on_an_address_it_cannot_bind_says_so_in_one_french_line(tmp_path: Path, host: str, expected: str) -> None:
    result = run_serve_expecting_failure(tmp_path, "--host", host, "--port", str(free_port()))
    assert_one_french_line(
        result,
        f"{expected} : choisissez-en une autre avec --host (127.0.0.1 : cette machine seule ; 0.0.0.0 : toutes ses interfaces).",
    )


def test_serve_with_two_workers_starts_both_answers_and_stops_them_all(tmp_path: Path, empty_database_url: str) -> None:
    """``--workers 2``: two web processes share the port and answer signed webhooks; stopping serve stops both."""
    from twilio.request_validator import RequestValidator

    token = "serve0123456789abcdef0123456789"
    port = free_port()
    env_settings = {"twilio_auth_token": token, "public_base_url": "https://rdv.example.fr"}
    env = {
        **os.environ,
        "MOBILE_SERVICES_DATABASE_URL": empty_database_url,
        "MOBILE_SERVICES_DATA_DIR": str(tmp_path / "data"),
        **{f"MOBILE_SERVICES_{name.upper()}": value for name, value in env_settings.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "--port", str(port), "--workers", "2", "--no-scheduler"],
        env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    log_file = tmp_path / "data" / "mobile-services.log"
    validator = RequestValidator(token)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while not log_file.exists() or log_file.read_text(encoding="utf-8").count("Application startup complete.") < 2:
            assert process.poll() is None, process.stdout.read() if process.stdout else "serve exited"
            assert time.monotonic() < deadline, "two workers did not start within 90 s"
            time.sleep(0.3)
        replies = []
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(6):
                form = {"MessageSid": f"SM{i:032x}", "From": f"+3361234567{i}", "To": "+33939000000", "Body": "RDV"}
                signature = validator.compute_signature("https://rdv.example.fr/sms/inbound", form)
                response = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})
                assert response.status_code == 200
                replies.append(response.text)
        assert all("<Message>" in reply for reply in replies), replies
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    log = log_file.read_text(encoding="utf-8")
    assert f"web app listening on 127.0.0.1:{port} (2 web processes)" in log
    workers = set(re.findall(r"Started server process \[(\d+)\]", log))
    assert len(workers) == 2, log
    for pid in workers:  # every worker stopped with serve: none left serving the port
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    if empty_database_url.startswith("sqlite"):
        assert "--workers 2 avec SQLite" in output  # one writer at a time: PostgreSQL advised
    assert "+3361234567" not in log, "no phone number in the log file"
