"""Package rules from DESIGN.md section 2, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import notifications

PACKAGE = Path(notifications.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_notifications_never_imports_the_application_or_web_frameworks() -> None:
    for path in PACKAGE.glob("*.py"):
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in {"mobile_services", "fastapi", "starlette", "config"}, (path.name, module)


def test_only_twilio_sms_imports_twilios_rest_client() -> None:
    for path in PACKAGE.glob("*.py"):
        uses_rest = any(m == "twilio.rest" or m.startswith(("twilio.rest.", "twilio.http")) for m in imported_modules(path))
        assert uses_rest == (path.name == "twilio_sms.py"), path.name
