"""``pip install seamline`` without the ``sandbox`` extra: the integration works, the sandbox
says how to install it.

How this is proven: a fresh virtual environment plus ``pip install .`` takes over a minute here
(and more on a busy CI box), so the suite checks the two halves separately. The installed
distribution's requirements show what a plain install pulls in (no ariadne, graphql-core in a
wide range). Then the real ``seamline`` console script runs in a subprocess whose interpreter
cannot import ariadne (a meta-path blocker loaded through ``sitecustomize``), which is exactly
what a plain install lacks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import seamline_sandbox

ROOT = Path(__file__).resolve().parents[2]
SEAMLINE = Path(sys.executable).with_name("seamline")
HINT = "pip install 'seamline[sandbox]'"

BLOCKER = '''
import sys


class _Blocker:
    """Pretend these top-level packages are not installed."""

    blocked = frozenset(filter(None, {names!r}.split(",")))

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
'''


def _requirements() -> tuple[list[Requirement], list[Requirement]]:
    """(core requirements, the sandbox extra's) of the installed distribution."""
    core: list[Requirement] = []
    sandbox: list[Requirement] = []
    for line in metadata.requires("seamline") or []:
        req = Requirement(line)
        if req.marker is None:
            core.append(req)
        elif req.marker.evaluate({"extra": "sandbox"}) and not req.marker.evaluate({"extra": ""}):
            sandbox.append(req)
    return core, sandbox


def _run_blocked(tmp_path: Path, names: str, *args: str,
                 python: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``seamline ARGS`` (or ``python -c ARGS[0]``) unable to import ``names``."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(textwrap.dedent(BLOCKER.format(names=names)),
                                           encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "200"
    cmd = [sys.executable, "-c", args[0]] if python else [str(SEAMLINE), *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_plain_install_requires_neither_ariadne_nor_the_sandbox_graphql_pin() -> None:
    """The core's requirements hold no ariadne and a graphql-core range that allows 3.3."""
    core, sandbox = _requirements()
    names = {r.name for r in core}
    assert "ariadne" not in names
    graphql = next(r for r in core if r.name == "graphql-core")
    assert graphql.specifier.contains(Version("3.2.14"))
    assert graphql.specifier.contains(Version("3.3.0"))
    assert {r.name for r in sandbox} == {"ariadne", "graphql-core"}
    pinned = next(r for r in sandbox if r.name == "graphql-core")
    assert not pinned.specifier.contains(Version("3.2.14"))


def test_the_sandbox_guard_and_the_sandbox_extra_name_the_same_graphql_core_range() -> None:
    """seamline_sandbox.GRAPHQL_CORE_RANGE is the extra's pin in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pin = next(Requirement(r) for r in project["optional-dependencies"]["sandbox"]
               if r.startswith("graphql-core"))
    low, high = (".".join(map(str, v)) for v in seamline_sandbox.GRAPHQL_CORE_RANGE)
    assert pin.specifier == Requirement(f"graphql-core>={low},<{high}").specifier


def test_the_readme_commands_install_the_sandbox_extra() -> None:
    """scripts/test and scripts/demo install `.[sandbox,…]`, so the demo and the suite work."""
    for script in ("test", "demo"):
        text = (ROOT / "scripts" / script).read_text(encoding="utf-8")
        assert 'ensure_venv ".[sandbox' in text, script


@pytest.mark.slow
def test_without_ariadne_the_cli_runs_and_the_demo_says_how_to_install_the_extra(
    tmp_path: Path,
) -> None:
    """`seamline --help` and `seamline run --help` work; `demo` and `sandbox` print one line
    naming the extra and exit 1."""
    probe = _run_blocked(tmp_path, "ariadne", "import ariadne", python=True)
    assert probe.returncode != 0
    assert "blocked" in probe.stderr

    for args in (("--help",), ("run", "--help"), ("worker", "--help")):
        proc = _run_blocked(tmp_path, "ariadne", *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "warning" not in proc.stderr.lower(), proc.stderr

    for args in (("demo",), ("demo", "--fast"), ("sandbox", "centra")):
        proc = _run_blocked(tmp_path, "ariadne", *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert HINT in lines[0]
        assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_without_ariadne_the_whole_core_imports_and_the_simulators_refuse_to(
    tmp_path: Path,
) -> None:
    """Every seamline module imports; seamline_sandbox.centra/.bluecherry/.demo raise
    ImportError naming the extra."""
    code = textwrap.dedent("""
        import importlib, pkgutil, seamline
        mods = [m.name for m in pkgutil.walk_packages(seamline.__path__, "seamline.")
                if ".migrations" not in m.name]  # alembic's env.py runs only under alembic
        for m in mods:
            importlib.import_module(m)
        print("core", len(mods))
        for m in ("seamline_sandbox.centra", "seamline_sandbox.bluecherry",
                  "seamline_sandbox.demo"):
            try:
                importlib.import_module(m)
            except ImportError as exc:
                print("refused", m, exc)
            else:
                print("imported", m)
    """)
    proc = _run_blocked(tmp_path, "ariadne", code, python=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith("core ")
    assert int(out[0].split()[1]) > 50
    refused = [line for line in out[1:] if line.startswith("refused")]
    assert len(refused) == 3, out
    assert all(HINT in line for line in refused)


@pytest.mark.slow
def test_the_core_cli_works_even_when_the_sandbox_package_is_absent(tmp_path: Path) -> None:
    """Without seamline_sandbox at all, `seamline run --help` works (the plugin is optional)."""
    proc = _run_blocked(tmp_path, "seamline_sandbox,ariadne", "run", "--help")
    assert proc.returncode == 0, proc.stderr
