"""The one place that wires adapters to the message bus (STYLE.md items 1-2).

Production calls ``bootstrap(get_settings())``; tests pass fakes:
``bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=FixedClock(...))``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from config import Settings
from mobile_services.adapters.travel_times import HaversineProvider, HttpxTableFetcher, MatrixProvider, OsrmProvider
from mobile_services.service_layer import handlers, reference_data
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.service_layer.unit_of_work import UnitOfWorkFactory
from mobile_services.storage.db import make_engine
from notifications.ports import Clock, SmsSender, SystemClock


def default_sms_sender(settings: Settings) -> SmsSender:
    """Twilio when configured, otherwise the embedded outbox log (no external service)."""
    if settings.sms_backend == "twilio":
        from notifications.twilio_sms import TwilioSmsSender

        return TwilioSmsSender(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback_base_url=settings.base_url,
            api_base_url=str(settings.twilio_api_url).rstrip("/"),
            pool_size=max(10, settings.dispatch_concurrency),  # a kept-alive connection per sender
        )
    from notifications.fakes import OutboxLogSmsSender

    return OutboxLogSmsSender(settings.data_dir / "sms-outbox.log")


def default_travel_times(settings: Settings) -> MatrixProvider:
    """OSRM road times when MOBILE_SERVICES_OSRM_URL is set, straight lines otherwise."""
    if settings.osrm_url is not None:
        return OsrmProvider(HttpxTableFetcher(str(settings.osrm_url)))
    return HaversineProvider(settings.road_factor)


def bootstrap(
    settings: Settings,
    *,
    engine: Engine | None = None,
    sms: SmsSender | None = None,
    clock: Clock | None = None,
    travel: MatrixProvider | None = None,
    **extra: Any,
) -> MessageBus:
    engine = engine or make_engine(settings.effective_database_url)
    reference_data.configure(settings.reference_cache_seconds)
    dependencies: dict[str, Any] = {
        "settings": settings,
        "sms": sms or default_sms_sender(settings),
        "clock": clock or SystemClock(),
        "travel": travel or default_travel_times(settings),
        **extra,
    }
    return MessageBus(
        uow_factory=UnitOfWorkFactory(engine, dependencies["clock"]),
        command_handlers=handlers.command_handlers(),
        event_handlers=handlers.event_handlers(),
        dependencies=dependencies,
    )
