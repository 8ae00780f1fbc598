"""The BlueCherry sandbox (needs the ``seamline[sandbox]`` extra)."""

from __future__ import annotations

from seamline_sandbox import require_extra

require_extra("The BlueCherry sandbox")
