"""Centra's published GraphQL schema, as the tests find it.

``published_schema_path()`` is the one place tests locate it: ``$SEAMLINE_CENTRA_SCHEMA`` when
set, else ``<repo root>/../shared/reference/centra-schema.graphql`` (the shared reference beside
the worktrees), else the byte-identical copy kept here (``centra-schema.graphql``), which a test
holds equal to the shared file whenever that one is reachable.

Import it as ``from published import published_schema_path`` from a test under
``tests/contract/``, or as ``from contract.published import published_schema_path`` from any
test (``tests/`` is on ``sys.path`` through the root ``conftest.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["COPY_PATH", "REPO_ROOT", "published_schema_path", "shared_schema_path"]

COPY_PATH = Path(__file__).with_name("centra-schema.graphql")
REPO_ROOT = Path(__file__).resolve().parents[3]
#: Read at import too: the root conftest clears SEAMLINE_* variables around each test.
_ENV_AT_IMPORT = os.environ.get("SEAMLINE_CENTRA_SCHEMA")


def shared_schema_path() -> Path | None:
    """The shared reference file (env override first), or None when it is not reachable."""
    env = os.environ.get("SEAMLINE_CENTRA_SCHEMA") or _ENV_AT_IMPORT
    if env and Path(env).is_file():
        return Path(env)
    shared = REPO_ROOT.parent / "shared" / "reference" / "centra-schema.graphql"
    return shared if shared.is_file() else None


def published_schema_path() -> Path:
    """Centra's published schema: the shared reference if reachable, else the copy here."""
    return shared_schema_path() or COPY_PATH
