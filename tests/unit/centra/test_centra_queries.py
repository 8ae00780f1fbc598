"""Every GraphQL operation the Centra adapter can send is valid against Centra's published
schema (``../shared/reference/centra-schema.graphql``, read from the shared folder at test time;
see ``tests/contract/published``). A field Centra does not publish fails here, not at go-live."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from contract.published import published_schema_path
from seamline.adapters.centra import queries


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(published_schema_path().read_text(encoding="utf-8"))


def test_there_are_documents_to_check() -> None:
    """The package ships its documents (a packaging slip would empty the list)."""
    assert len(queries.operation_names()) >= 18


def test_every_operation_the_adapter_can_send_validates_against_the_published_schema(
    schema: GraphQLSchema,
) -> None:
    """All of them at once, with each failure named: N of N valid."""
    names = queries.operation_names()
    invalid = {name: [e.message for e in validate(schema, parse(queries.load(name)))]
               for name in names}
    invalid = {k: v for k, v in invalid.items() if v}
    print(f"{len(names) - len(invalid)} of {len(names)} Centra operations valid against "
          f"{published_schema_path()}")
    assert invalid == {}


@pytest.mark.parametrize("name", queries.operation_names())
def test_each_document_validates_against_the_published_schema(
    schema: GraphQLSchema, name: str
) -> None:
    """Drift between our queries and Centra's schema fails the build, not production."""
    errors = validate(schema, parse(queries.load(name)))
    assert errors == [], [e.message for e in errors]
