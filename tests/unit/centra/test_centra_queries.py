"""Every packaged GraphQL document is valid against the Centra sandbox's schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from seamline.adapters.centra import queries

SDL = Path(__file__).parents[3] / "src" / "seamline_sandbox" / "centra" / "schema.graphql"


@pytest.fixture(scope="module")
def schema():  # type: ignore[no-untyped-def]
    return build_schema(SDL.read_text(encoding="utf-8"))


def test_there_are_documents_to_check() -> None:
    """The package ships its documents (a packaging slip would empty the list)."""
    assert len(queries.operation_names()) >= 15


@pytest.mark.parametrize("name", queries.operation_names())
def test_every_document_validates_against_the_sandbox_schema(schema, name: str) -> None:  # type: ignore[no-untyped-def]
    """Drift between our queries and the schema fails the build, not production."""
    errors = validate(schema, parse(queries.load(name)))
    assert errors == [], [e.message for e in errors]
