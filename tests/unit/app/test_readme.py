"""The README's two opening commands stay the ones CI runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _opening_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands() -> None:
    commands = _opening_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install -e '.[dev]'")
    assert "mobile-services demo" in commands[0]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert _opening_commands()[1] in ci_lines
