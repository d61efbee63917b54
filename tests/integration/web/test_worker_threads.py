"""Each web process works on at most ``web_threads`` requests at once (the rest wait their turn)."""

from __future__ import annotations

import threading
import time

from anyio import to_thread
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from config import Settings
from mobile_services.web.app import create_app


def test_the_thread_pool_is_bounded_by_the_setting(engine: Engine) -> None:
    app = create_app(Settings(web_threads=2), engine=engine)

    with TestClient(app) as client:
        assert client.portal is not None
        assert client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens) == 2


def test_requests_beyond_the_bound_wait_and_are_all_answered(engine: Engine) -> None:
    app = create_app(Settings(web_threads=2), engine=engine)
    running, most = 0, 0
    lock = threading.Lock()

    @app.get("/slow")
    def slow() -> dict[str, int]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return {"ok": 1}

    with TestClient(app) as client:
        answers: list[int] = []
        threads = [threading.Thread(target=lambda: answers.append(client.get("/slow").status_code)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert answers == [200] * 8
    assert most == 2
