"""Dependencies point inward: the core never imports the sandbox; the domain does no I/O."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import seamline.domain

SRC = Path(__file__).resolve().parents[2] / "src" / "seamline"
FORBIDDEN_IN_DOMAIN = ("httpx", "sqlalchemy", "psycopg", "fastapi", "uvicorn", "structlog")


def _sandbox_imports(path: Path) -> list[str]:
    """Every static import of seamline_sandbox in ``path`` (any nesting, both import forms)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.name}:{node.lineno} imports {n}"
                  for n in names if n.split(".")[0] == "seamline_sandbox"]
    return found


def test_the_core_package_never_imports_the_sandbox_statically() -> None:
    """No file under src/seamline imports seamline_sandbox (the CLI finds it by entry point)."""
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 10
    offenders = [hit for f in files for hit in _sandbox_imports(f)]
    assert offenders == []


def test_the_sandbox_import_check_catches_nested_and_from_imports(tmp_path: Path) -> None:
    """The AST walk sees `import x.y` inside a function and `from x import y` at top level."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import seamline\n"
        "def f():\n    import seamline_sandbox.world\n"
        "from seamline_sandbox import cli\n",
        encoding="utf-8",
    )
    assert sorted(_sandbox_imports(probe)) == [
        "probe.py:3 imports seamline_sandbox.world",
        "probe.py:4 imports seamline_sandbox",
    ]


def test_importing_the_whole_domain_pulls_in_no_io_library() -> None:
    """A fresh interpreter that imports every seamline.domain module has none of the I/O libs."""
    modules = ["seamline.domain"] + [
        m.name for m in pkgutil.walk_packages(seamline.domain.__path__, "seamline.domain.")
    ]
    assert len(modules) > 3
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(n for n in {list(FORBIDDEN_IN_DOMAIN)!r} "
        "if any(k == n or k.startswith(n + '.') for k in sys.modules))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert json.loads(out.stdout) == []


def test_the_import_linter_contracts_hold() -> None:
    """`lint-imports` (the layer rules in pyproject.toml) passes; CI runs it too."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint)], capture_output=True, text=True, check=False, timeout=120,
                         cwd=SRC.parents[1])
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
