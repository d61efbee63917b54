"""The README: its two opening commands stay the ones CI runs, and it stands on its own."""

from __future__ import annotations

import re
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


def test_readme_never_points_outside_the_repository() -> None:
    """A user's clone has no ../shared: every file the README names is in the repository."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in text and "/work/shared" not in text
    targets = re.findall(r"\]\(([^)#\s]+)[^)]*\)", text)
    local = [target for target in targets if "://" not in target]
    assert "docs/DESIGN.md" in local
    for target in local:
        assert not target.startswith(("../", "/")), target
        assert (ROOT / target).exists(), f"README links to {target}, which is not in the repository"
