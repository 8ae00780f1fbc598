"""The Centra sandbox serves nothing Centra's published schema lacks.

For every named type both schemas have: the sandbox's fields, arguments, input fields and enum
values are a subset of the published ones; every type reachable from the sandbox's root types is
a published type. Checked on the SDL file and on the executable schema the sandbox serves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ariadne import load_schema_from_path
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    get_named_type,
)
from published import COPY_PATH, published_schema_path, shared_schema_path  # type: ignore[import-not-found]

from seamline_sandbox.centra.app import create_app
from seamline_sandbox.centra.resolvers import SCHEMA_PATH
from seamline_sandbox.centra.resolvers import build_schema as build_served_schema


def published() -> GraphQLSchema:
    return build_schema(published_schema_path().read_text(encoding="utf-8"))


def extras(sandbox: GraphQLSchema, centra: GraphQLSchema) -> list[str]:
    """Everything the sandbox has on a shared type that Centra's published schema lacks."""
    out: list[str] = []
    for name, t in sandbox.type_map.items():
        if name.startswith("__"):
            continue
        c = centra.type_map.get(name)
        if c is None:
            continue
        if type(c) is not type(t):
            out.append(f"{name}: {type(t).__name__} here, {type(c).__name__} in Centra")
            continue
        if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType)):
            assert isinstance(c, (GraphQLObjectType, GraphQLInterfaceType))
            for fname, f in t.fields.items():
                if fname not in c.fields:
                    out.append(f"{name}.{fname}")
                    continue
                out += [f"{name}.{fname}({a})" for a in f.args if a not in c.fields[fname].args]
            out += [f"{name} implements {i.name}" for i in t.interfaces
                    if i.name not in {x.name for x in c.interfaces}]
        elif isinstance(t, GraphQLInputObjectType):
            assert isinstance(c, GraphQLInputObjectType)
            out += [f"{name}.{f}" for f in t.fields if f not in c.fields]
        elif isinstance(t, GraphQLEnumType):
            assert isinstance(c, GraphQLEnumType)
            out += [f"{name}.{v}" for v in t.values if v not in c.values]
        elif isinstance(t, GraphQLUnionType):
            assert isinstance(c, GraphQLUnionType)
            names = {x.name for x in c.types}
            out += [f"{name} | {m.name}" for m in t.types if m.name not in names]
    return out


def reachable(schema: GraphQLSchema) -> set[str]:
    """Named types reachable from the root types (fields, arguments, unions, implementations)."""
    seen: set[str] = set()
    todo: list[GraphQLNamedType] = [t for t in (schema.query_type, schema.mutation_type,
                                                schema.subscription_type) if t is not None]
    while todo:
        t = todo.pop()
        if t.name in seen:
            continue
        seen.add(t.name)
        nxt: list[GraphQLNamedType] = []
        if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType)):
            for f in t.fields.values():
                nxt.append(get_named_type(f.type))
                nxt += [get_named_type(a.type) for a in f.args.values()]
            nxt += list(t.interfaces)
            if isinstance(t, GraphQLInterfaceType):
                impl = schema.get_implementations(t)
                nxt += [*impl.objects, *impl.interfaces]
        elif isinstance(t, GraphQLInputObjectType):
            nxt += [get_named_type(f.type) for f in t.fields.values()]
        elif isinstance(t, GraphQLUnionType):
            nxt += list(t.types)
        todo += nxt
    return seen


def test_the_sandboxs_sdl_file_adds_nothing_to_centras_published_types() -> None:
    """schema.graphql: fields, arguments, input fields and enum values ⊆ the published ones."""
    sandbox = build_schema(load_schema_from_path(str(SCHEMA_PATH)))
    assert extras(sandbox, published()) == []


def test_the_served_schema_adds_nothing_to_centras_published_types() -> None:
    """The executable schema the sandbox answers with is a subset of the published one."""
    assert extras(build_served_schema(), published()) == []


def test_every_type_reachable_from_the_sandboxs_roots_is_a_published_type() -> None:
    """No sandbox-only type is reachable from Query or Mutation."""
    centra = published()
    for schema in (build_served_schema(), create_app().schema):
        unknown = {n for n in reachable(schema) if not n.startswith("__")} \
            - set(centra.type_map)
        assert unknown == set()


def test_the_subset_check_catches_an_added_field_argument_and_enum_value() -> None:
    """The checker itself: an extra field, argument, input field and enum value are found."""
    centra = build_schema("type Query { a(x: Int): Int } enum E { A } input I { f: Int }")
    sandbox = build_schema("type Query { a(x: Int, y: Int): Int b: E c(i: I): Int } "
                           "enum E { A B } input I { f: Int g: Int }")
    assert sorted(extras(sandbox, centra)) == ["E.B", "I.g", "Query.a(y)", "Query.b",
                                                "Query.c"]


def test_the_published_copy_equals_the_shared_reference_when_it_is_reachable() -> None:
    """tests/contract/published/centra-schema.graphql is byte-identical to the shared file."""
    shared = shared_schema_path()
    if shared is None:
        pytest.skip("the shared reference is not reachable; the copy stands in for it")
    assert COPY_PATH.read_bytes() == Path(shared).read_bytes()


def test_the_sandboxs_sdl_is_the_published_schema_below_its_header() -> None:
    """schema.graphql = a provenance header + the published file verbatim."""
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert text.endswith(published_schema_path().read_text(encoding="utf-8"))
