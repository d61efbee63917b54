"""Effective settings: packaged TOML defaults < user TOML file < environment.

Nothing here runs at import time: entry points call :func:`get_settings` once and
pass the result down, so tests build their own :class:`Settings` freely.
"""

from __future__ import annotations

import os
import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "MOBILE_SERVICES_"
DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
USER_FILE_ENV = "MOBILE_SERVICES_CONFIG_FILE"
USER_FILE_DEFAULT = Path("mobile-services.toml")


class SettingsError(RuntimeError):
    """Raised with one line naming the faulty setting, for the CLI to print."""


#: Opening hours of the default site ("Mairie", at the commune's centre) that a commune
#: without any site of its own gets: Monday to Friday, morning and afternoon. The gap
#: leaves room for the planner's lunch break (45 minutes between 12:00 and 14:00).
DEFAULT_SITE_HOURS = "lun-ven 09:00-12:00 13:30-17:00"

_DAYS = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")
_DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_RANGE_RE = re.compile(r"(\d{1,2})(?:[:h](\d{2})?)?-(\d{1,2})(?:[:h](\d{2})?)?")


def _day(text: str) -> int:
    key = text.strip().lower()
    for index, (short, name) in enumerate(zip(_DAYS, _DAY_NAMES, strict=True)):
        if key in (short, name):
            return index
    raise ValueError(f"unknown weekday {text!r} (lun, mar, mer, jeu, ven, sam, dim)")


def parse_week_hours(text: str) -> dict[str, list[list[str]]]:
    """'lun-ven 09:00-12:00 13:30-17:00; sam 09:00-12:00' -> the stored form of site hours.

    Groups are separated by ``;``; each is days (``lun``, ``lun-ven``, ``lun,mer,ven``,
    full names too) then time ranges (``09:00-12:00``, ``9h-12h``). The result is keyed
    like ``site.opening_hours``: {"0": [["09:00", "12:00"], ["13:30", "17:00"]], ...}
    (0 = Monday). Raises ValueError with an English message.
    """
    week: dict[int, list[tuple[int, int]]] = {}
    for group in filter(None, (part.strip() for part in text.split(";"))):
        days_text, _, ranges_text = group.partition(" ")
        days: list[int] = []
        for item in filter(None, days_text.split(",")):
            first, dash, last = item.partition("-")
            start = _day(first)
            end = _day(last) if dash else start
            if end < start:
                raise ValueError(f"day range {item!r} ends before it starts")
            days.extend(range(start, end + 1))
        spans: list[tuple[int, int]] = []
        for chunk in ranges_text.replace(",", " ").split():
            match = _RANGE_RE.fullmatch(chunk)
            if match is None:
                raise ValueError(f"unreadable time range {chunk!r} (expected e.g. 09:00-12:00)")
            h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
                raise ValueError(f"invalid time range {chunk!r}")
            spans.append((start, end))
        if not days or not spans:
            raise ValueError(f"{group!r}: expected days then time ranges, e.g. 'lun-ven 09:00-12:00 13:30-17:00'")
        for day in days:
            if day in week:
                raise ValueError(f"{_DAY_NAMES[day]} is given twice")
            week[day] = sorted(spans)
    if not week:
        raise ValueError("no opening hours (e.g. 'lun-ven 09:00-12:00 13:30-17:00')")
    for day, spans in week.items():
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise ValueError(f"time ranges overlap on {_DAY_NAMES[day]}")
    return {
        str(day): [[f"{s // 60:02d}:{s % 60:02d}", f"{e // 60:02d}:{e % 60:02d}"] for s, e in week[day]]
        for day in sorted(week)
    }


class Settings(BaseSettings):
    """All knobs of the application; see the settings table in README.md."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    data_dir: Path = Path("data")
    database_url: str = ""
    timezone: str = "Europe/Paris"
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    #: level of the log file (English, no personal data); see log_console_level for the terminal
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: level of the log lines also shown on the terminal (stderr)
    log_console_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"
    #: log file; empty means mobile-services.log in data_dir, "-" means no file
    log_file: str = ""

    sms_backend: Literal["outbox", "twilio"] = "outbox"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_messaging_service_sid: str = ""
    twilio_api_url: AnyHttpUrl = AnyHttpUrl("https://api.twilio.com")

    reminder_day_before_at: time = time(18, 0)
    reminder_hours_before: int = Field(2, ge=0, le=48)
    quiet_hours_start: time = time(20, 0)
    quiet_hours_end: time = time(8, 0)
    booking_cutoff_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    conversation_timeout_minutes: int = Field(30, ge=1, le=24 * 60)
    #: territories, communes and services are kept this long by each web process (0: read every time)
    reference_cache_seconds: float = Field(30, ge=0, le=3600)
    #: requests each web process works on at once; more wait their turn (CPU-bound Python
    #: threads only take the lock from one another)
    web_threads: int = Field(3, ge=1, le=200)
    seat_hold_hours: int = Field(24, ge=1, le=7 * 24)
    #: a seat freed at a stop is kept this long for the first person waiting, then passed on
    waitlist_hold_minutes: int = Field(30, ge=5, le=24 * 60)
    #: a waiting-list request with no stop after this many days is closed (the resident is told)
    waitlist_entry_days: int = Field(60, ge=1, le=365)
    #: the coordinator is told by SMS when this many requests wait in a commune with no stop
    #: ahead (once per commune and week; 0 = never)
    waitlist_alert_threshold: int = Field(5, ge=0, le=10_000)
    #: outbox dispatch period (15-30 s in production; tests shorten it)
    dispatch_interval_seconds: int = Field(20, ge=1, le=600)
    #: a row still "sending" after this long was in flight when its dispatcher died: it
    #: becomes "unknown"; reconciliation only asks Twilio about rows at least this old.
    #: Keep it well above the Twilio request timeout (10 s): only tests shorten it
    outbox_stale_after_seconds: int = Field(120, ge=1, le=24 * 3600)
    #: SMS handed to Twilio at the same time by one dispatcher (Twilio answers in 100-300 ms,
    #: so N senders send about N x 4 a second); after a crash at most this many messages are
    #: uncertain (each was marked "sending", committed, right before its own call)
    dispatch_concurrency: int = Field(8, ge=1, le=64)
    #: a dispatcher claims due messages in batches; one it claimed but never attempted is
    #: due to any dispatcher again after this long (it crashed, or was slower than this)
    dispatch_claim_lease_seconds: int = Field(30, ge=1, le=3600)
    #: period of the reconciliation job that settles "unknown" messages with Twilio
    reconcile_interval_seconds: int = Field(300, ge=1, le=24 * 3600)
    #: the two-hours-before reminder is not sent later than this before the appointment
    reminder_min_lead_minutes: int = Field(15, ge=0, le=24 * 60)

    retention_days: int = Field(365, ge=1)

    osrm_url: AnyHttpUrl | None = None
    solver_time_limit_seconds: float = Field(30, gt=0, le=3600)
    solver_seed: int = Field(1, ge=0)
    solver_strategy: Literal["lns", "ils", "ortools"] = "lns"
    solver_workers: int = Field(2, ge=1, le=64)
    #: search time of the automatic re-planning after a disruption (only the days it touches)
    replan_time_limit_seconds: float = Field(10, gt=0, le=600)
    road_factor: float = Field(1.3, ge=1.0, le=3.0)
    #: coverage before repetition: a commune's second and later stops of a week count this
    #: share of the people they serve (0: never repeat while others wait; 1: no preference)
    repeat_stop_weight: float = Field(0.5, ge=0.0, le=1.0)
    #: shortest stop worth the drive, in minutes; stops shorten to what hours and drive allow
    min_stop_minutes: int = Field(90, ge=15, le=240)
    #: most stops a commune may get in one week (4 = two full days)
    max_stops_per_week: int = Field(4, ge=1, le=10)
    #: share of desk time kept for residents who come without a booking, where neither the
    #: site nor the territory sets its own (site.walk_in_share, territory.walk_in_share)
    walk_in_share: float = Field(0.25, ge=0.0, le=0.9)

    #: the coordinator's mobile: told by SMS of the weekly draft and of automatic re-plannings ("" = nobody)
    coordinator_phone: str = ""
    #: when next week's draft is planned by itself (0 = Monday ... 6 = Sunday, Paris wall-clock)
    weekly_draft_weekday: int = Field(3, ge=0, le=6)
    weekly_draft_at: time = time(14, 0)

    #: hours of the default site of a commune that has no site of its own (parse_week_hours)
    default_site_hours: str = DEFAULT_SITE_HOURS

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekly_draft_at")
    @classmethod
    def _not_in_the_dst_hour(cls, value: time) -> time:
        # 02:00-03:00 Paris is skipped or lived twice on DST nights: no job there
        if value.hour == 2:
            raise ValueError("no scheduled job between 02:00 and 03:00 (daylight saving time changes)")
        return value

    @field_validator("default_site_hours")
    @classmethod
    def _readable_site_hours(cls, value: str) -> str:
        parse_week_hours(value)
        return value

    @field_validator("osrm_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _twilio_needs_credentials(self) -> Settings:
        if self.sms_backend == "twilio":
            for name in ("twilio_account_sid", "twilio_messaging_service_sid"):
                if not getattr(self, name):
                    raise ValueError(f"{ENV_PREFIX}{name.upper()} is required when SMS_BACKEND is twilio")
            if not self.twilio_auth_token.get_secret_value():
                raise ValueError(f"{ENV_PREFIX}TWILIO_AUTH_TOKEN is required when SMS_BACKEND is twilio")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        user_file = Path(os.environ.get(USER_FILE_ENV, USER_FILE_DEFAULT))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if user_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=user_file))
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=DEFAULTS_FILE))
        return tuple(sources)

    # Derived values -------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mobile-services.db').as_posix()}"

    @property
    def default_site_opening_hours(self) -> dict[str, list[list[str]]]:
        """``default_site_hours`` in the form stored in ``site.opening_hours``."""
        return parse_week_hours(self.default_site_hours)

    @property
    def effective_log_file(self) -> Path | None:
        """The log file: ``log_file``, else ``mobile-services.log`` in ``data_dir``; None for "-"."""
        if self.log_file == "-":
            return None
        return Path(self.log_file) if self.log_file else self.data_dir / "mobile-services.log"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_url(self) -> str:
        """Public base URL without a trailing slash, for links and webhook signatures."""
        return str(self.public_base_url).rstrip("/")

    def masked(self) -> dict[str, str]:
        """Effective values for display: secrets masked, passwords in URLs hidden."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "********" if value.get_secret_value() else ""
            elif name == "database_url":
                text = safe_url(self.effective_database_url)
            else:
                text = "" if value is None else str(value)
            shown[f"{ENV_PREFIX}{name.upper()}"] = text
        return shown


def safe_url(url: str) -> str:
    """A database URL with its password hidden, for display and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - display only
        return "<invalid URL>"


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc") or ()
        field = str(loc[0]) if loc else ""
        message = first.get("msg", "invalid value").removeprefix("Value error, ")
        if not field:  # a cross-field rule: its message already names the setting
            raise SettingsError(f"Invalid settings: {message}") from None
        raise SettingsError(f"Invalid setting {ENV_PREFIX}{field.upper()}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings for entry points (tests build Settings directly)."""
    return load_settings()
