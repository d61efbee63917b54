"""Settings of mobile-services (pydantic-settings, TOML defaults, env overrides)."""

from config.settings import Settings, SettingsError, get_settings, load_settings

__all__ = ["Settings", "SettingsError", "get_settings", "load_settings"]
