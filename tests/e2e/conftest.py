"""End-to-end fixtures: the real app under uvicorn, signed Twilio webhooks over HTTP.

The app believes it lives at https://rdv.example.fr (PUBLIC_BASE_URL, as behind a
reverse proxy) while uvicorn listens on 127.0.0.1:<random port>: signatures are
computed, like Twilio does, on the public URL. Time only moves when a test moves
the injected clock.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from config import Settings
from mobile_services.storage import tables as t
from mobile_services.web.app import create_app
from mobile_services.web.background import BackgroundServer
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.fakes.fake_twilio import FakeTwilioServer
from tests.fixtures.valley import Valley

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

AUTH_TOKEN = "e2e0123456789abcdef0123456789ab"
PUBLIC_BASE = "https://rdv.example.fr"
OUR_NUMBER = "+33939000000"
ACCOUNT_SID = "AC" + "0" * 32




@pytest.fixture
def cli_on_fake_twilio(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str, fake_twilio: FakeTwilioServer
) -> FakeTwilioServer:
    """CLI commands in this test send through the official client to the fake Twilio, at any hour."""
    for name, value in {
        "DATABASE_URL": empty_database_url, "DATA_DIR": str(tmp_path / "data"), "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid, "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
        "TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32, "TWILIO_API_URL": fake_twilio.base_url,
        "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"MOBILE_SERVICES_{name}", value)
    return fake_twilio


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Public URL behind a proxy, a Twilio auth token, default 30-minute conversation timeout."""
    return Settings(data_dir=tmp_path, public_base_url=PUBLIC_BASE, twilio_auth_token=SecretStr(AUTH_TOKEN))


@pytest.fixture
def server(settings: Settings, engine: Engine, valley: Valley, clock: FixedClock) -> Iterator[BackgroundServer]:
    """The app under uvicorn on 127.0.0.1, on the valley's database."""
    app = create_app(settings, engine=engine, clock=clock, sms=FakeSmsSender())
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture
def twilio(server: BackgroundServer, engine: Engine) -> Iterator[TwilioWebhooks]:
    """Posts webhooks the way Twilio does: urlencoded, signed for PUBLIC_BASE_URL."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield TwilioWebhooks(client, engine)


@pytest.fixture
def resident(twilio: TwilioWebhooks, clock: FixedClock) -> Resident:
    """A resident texting from 06 12 34 56 78."""
    return Resident(twilio, clock, "+33612345678")


def sign(path: str, params: Mapping[str, str], token: str = AUTH_TOKEN, base: str = PUBLIC_BASE) -> str:
    """X-Twilio-Signature for a POST of `params` to `base` + `path`."""
    return str(RequestValidator(token).compute_signature(base + path, dict(params)))


def twiml_messages(xml: str) -> list[str]:
    """The SMS bodies of a TwiML <Response>."""
    root = ET.fromstring(xml)
    assert root.tag == "Response", xml
    return [element.text or "" for element in root.findall("Message")]


class TwilioWebhooks:
    """What Twilio would send us, over real HTTP."""

    def __init__(self, client: httpx.Client, engine: Engine) -> None:
        self.client = client
        self.engine = engine
        self._sids = itertools.count(1)

    def new_sid(self) -> str:
        return f"SM{next(self._sids):032x}"

    def inbound_form(self, body: str, *, sender: str, sid: str | None = None, **extra: str) -> dict[str, str]:
        return {
            "MessageSid": sid or self.new_sid(),
            "SmsSid": sid or "",
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": OUR_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "FromCountry": "FR",
            "ToCountry": "FR",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    def post(self, path: str, form: Mapping[str, str], *, signature: str | None = None) -> httpx.Response:
        headers = {"X-Twilio-Signature": signature if signature is not None else sign(path, form)}
        return self.client.post(path, data=dict(form), headers=headers)

    def inbound(self, body: str, *, sender: str, sid: str | None = None, **extra: str) -> httpx.Response:
        return self.post("/sms/inbound", self.inbound_form(body, sender=sender, sid=sid, **extra))


@dataclass
class Resident:
    """A resident's phone: what they send, and everything they then read.

    They read the TwiML reply and the SMS our outbox queued for them at that
    moment (the booking confirmation, the cancellation acknowledgement); the
    reminders queued for later are not read yet.
    """

    twilio: TwilioWebhooks
    clock: FixedClock
    number: str
    _seen_outbox_id: int = 0

    def says(self, body: str, *, sid: str | None = None) -> list[str]:
        response = self.twilio.inbound(body, sender=self.number, sid=sid)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        return twiml_messages(response.text) + self._new_outbox_messages()

    def _new_outbox_messages(self) -> list[str]:
        with Session(self.twilio.engine) as session:
            rows = session.exec(
                select(t.Message)
                .where(t.Message.recipient == self.number, col(t.Message.id) > self._seen_outbox_id)
                .order_by(col(t.Message.id))
            ).all()
            if rows:
                self._seen_outbox_id = max(r.id for r in rows)  # type: ignore[type-var,assignment]
            return [r.body for r in rows if r.due_at <= self.clock.now()]  # not the reminders, due later


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (its own browsers cannot be downloaded here)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
