"""Settings: TOML defaults, environment overrides, one clear line when invalid."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load_settings


def test_defaults_come_from_the_packaged_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.timezone == "Europe/Paris"
    assert settings.sms_backend == "outbox"
    assert settings.effective_database_url == "sqlite:///data/mobile-services.db"
    assert settings.reminder_day_before_at.hour == 18
    assert settings.osrm_url is None


def test_environment_overrides_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", "postgresql://app:secret@db.example/ms")
    monkeypatch.setenv("MOBILE_SERVICES_SOLVER_TIME_LIMIT_SECONDS", "12.5")
    monkeypatch.setenv("MOBILE_SERVICES_OSRM_URL", "http://osrm.local:5000")
    settings = load_settings()
    assert settings.effective_database_url == "postgresql://app:secret@db.example/ms"
    assert settings.solver_time_limit_seconds == 12.5
    assert str(settings.osrm_url).startswith("http://osrm.local:5000")


def test_user_toml_file_sits_between_defaults_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    user_file = tmp_path / "site.toml"
    user_file.write_text('timezone = "Europe/Brussels"\nretention_days = 90\n', encoding="utf-8")
    monkeypatch.setenv("MOBILE_SERVICES_CONFIG_FILE", str(user_file))
    monkeypatch.setenv("MOBILE_SERVICES_RETENTION_DAYS", "30")
    settings = load_settings()
    assert settings.timezone == "Europe/Brussels"
    assert settings.retention_days == 30


def test_secrets_are_masked_when_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_SMS_BACKEND", "twilio")
    monkeypatch.setenv("MOBILE_SERVICES_TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("MOBILE_SERVICES_TWILIO_AUTH_TOKEN", "very-secret-token")
    monkeypatch.setenv("MOBILE_SERVICES_TWILIO_MESSAGING_SERVICE_SID", "MG" + "2" * 32)
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", "postgresql://app:pgpass@db/ms")
    shown = load_settings().masked()
    assert shown["MOBILE_SERVICES_TWILIO_AUTH_TOKEN"] == "********"
    assert "pgpass" not in shown["MOBILE_SERVICES_DATABASE_URL"]
    assert "very-secret-token" not in repr(load_settings())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOBILE_SERVICES_TIMEZONE", "Mars/Olympus_Mons"),
        ("MOBILE_SERVICES_SMS_BACKEND", "pigeon"),
        ("MOBILE_SERVICES_REMINDER_HOURS_BEFORE", "many"),
        ("MOBILE_SERVICES_DATABASE_URL", "mysql://root@localhost/db"),
        ("MOBILE_SERVICES_PUBLIC_BASE_URL", "not a url"),
    ],
)
def test_invalid_setting_fails_with_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert name in message
    assert "\n" not in message


def test_twilio_backend_requires_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_SMS_BACKEND", "twilio")
    with pytest.raises(SettingsError, match="MOBILE_SERVICES_TWILIO_ACCOUNT_SID"):
        load_settings()


def test_default_site_hours_are_read_as_days_then_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().default_site_opening_hours == {
        str(day): [["09:00", "12:00"], ["13:30", "17:00"]] for day in range(5)
    }
    monkeypatch.setenv("MOBILE_SERVICES_DEFAULT_SITE_HOURS", "lundi,mer-ven 14h-17h30 9h-12h; sam 09:00-12:00")
    assert load_settings().default_site_opening_hours == {
        "0": [["09:00", "12:00"], ["14:00", "17:30"]],
        "2": [["09:00", "12:00"], ["14:00", "17:30"]],
        "3": [["09:00", "12:00"], ["14:00", "17:30"]],
        "4": [["09:00", "12:00"], ["14:00", "17:30"]],
        "5": [["09:00", "12:00"]],
    }


@pytest.mark.parametrize(
    "value", ["", "lundi matin", "lun 12:00-09:00", "lun 09:00-12:00 11:00-13:00", "lun 9h-12h; lun 14h-17h", "ven-lun 9h-12h"]
)
def test_unreadable_default_site_hours_stop_with_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_DEFAULT_SITE_HOURS", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("Invalid setting MOBILE_SERVICES_DEFAULT_SITE_HOURS: ")
    assert "\n" not in str(caught.value)


def test_the_log_file_is_in_the_data_folder_unless_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.log_level == "INFO" and settings.log_console_level == "WARNING"
    assert settings.effective_log_file == Path("data") / "mobile-services.log"
    assert load_settings(log_file="/var/log/ms.log").effective_log_file == Path("/var/log/ms.log")
    assert load_settings(log_file="-").effective_log_file is None
    monkeypatch.setenv("MOBILE_SERVICES_LOG_CONSOLE_LEVEL", "LOUD")
    with pytest.raises(SettingsError, match="MOBILE_SERVICES_LOG_CONSOLE_LEVEL"):
        load_settings()
