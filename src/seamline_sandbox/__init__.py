"""Faithful local simulators of Centra and BlueCherry. Never imported by ``seamline``.

They ship as the ``seamline[sandbox]`` extra. Without the extra's dependencies this package
still imports (so that its CLI plugin can say how to install them), but the simulators and the
demo do not: importing ``seamline_sandbox.centra``, ``seamline_sandbox.bluecherry`` or
``seamline_sandbox.demo`` raises ``ImportError`` naming the install command.
"""

from __future__ import annotations

import re
from importlib import metadata
from importlib.util import find_spec

__all__ = ["INSTALL_HINT", "missing_requirements", "require_extra"]

INSTALL_HINT = "pip install 'seamline[sandbox]'"

#: The sandbox extra's graphql-core range (keep in step with pyproject.toml's ``sandbox``
#: extra; a test compares them). The core accepts any graphql-core 3.
GRAPHQL_CORE_RANGE = ((3, 2, 6), (3, 2, 14))


def _version_tuple(text: str) -> tuple[int, ...]:
    """``"3.2.13"`` → ``(3, 2, 13)``; a pre-release suffix is dropped (``"3.3.0a6"`` → 3.3.0)."""
    found = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    return tuple(int(p or 0) for p in found.groups()) if found else ()


def missing_requirements() -> list[str]:
    """What the sandbox extra would install that is missing or out of range here (empty: ok)."""
    missing: list[str] = []
    try:
        ariadne = find_spec("ariadne")
    except (ImportError, ValueError):  # a broken or blocked install counts as missing
        ariadne = None
    if ariadne is None:
        missing.append("ariadne")
    try:
        installed = metadata.version("graphql-core")
    except metadata.PackageNotFoundError:
        missing.append("graphql-core")
    else:
        low, high = GRAPHQL_CORE_RANGE
        if not low <= _version_tuple(installed) < high:
            lo, hi = (".".join(map(str, v)) for v in (low, high))
            missing.append(f"graphql-core>={lo},<{hi} (found {installed})")
    return missing


def require_extra(what: str) -> None:
    """Raise ``ImportError`` naming the install command when the sandbox extra is missing."""
    missing = missing_requirements()
    if missing:
        raise ImportError(
            f"{what} needs the sandbox extra ({', '.join(missing)} missing): {INSTALL_HINT}"
        )
