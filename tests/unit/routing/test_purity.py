"""routing is pure: stdlib and OR-Tools only, nothing of ours, no I/O libraries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import routing

FORBIDDEN = {
    "mobile_services",
    "notifications",
    "scheduler",
    "config",
    "sqlmodel",
    "sqlalchemy",
    "twilio",
    "httpx",
    "requests",
    "fastapi",
}
PACKAGE = Path(routing.__file__).parent


def test_importing_routing_loads_no_forbidden_module() -> None:
    code = (
        "import json, sys\n"
        "import routing, routing.problem, routing.matrix, routing.params, routing.solver, routing.model, "
        "routing.lns, routing.focus, routing.decode, routing.slots, routing.result, routing.precheck\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}

    assert not loaded & FORBIDDEN


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_routing_sources_import_only_stdlib_ortools_and_routing() -> None:
    allowed = set(sys.stdlib_module_names) | {"ortools", "routing"}
    for path in sorted(PACKAGE.glob("*.py")):
        roots = {name.split(".")[0] for name in _imports(path)}
        assert roots <= allowed, f"{path.name} imports {sorted(roots - allowed)}"


# The planner's modules (routing.solver's docstring); the rest of routing stays plain data and Python.
PLANNER = {"solver.py", "model.py", "lns.py", "focus.py", "decode.py"}


def test_only_the_planner_modules_import_the_routing_library() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        uses_routing_lib = any(name.startswith("ortools.constraint_solver") for name in _imports(path))
        assert uses_routing_lib == (path.name in PLANNER), path.name
