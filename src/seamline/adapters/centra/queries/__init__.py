"""The adapter's GraphQL documents: one ``.graphql`` file per operation, shipped in the package.

``load(name)`` returns the operation with exactly the fragments it uses (from
``fragments.graphql``) appended, so every document sent is self-contained and valid on its own.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from graphql import (
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

__all__ = ["FRAGMENTS_FILE", "is_mutation", "load", "operation_names"]

FRAGMENTS_FILE = "fragments.graphql"


def _read(filename: str) -> str:
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


@cache
def _fragments() -> dict[str, FragmentDefinitionNode]:
    doc = parse(_read(FRAGMENTS_FILE))
    return {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.append(node.name.value)


def _spreads(node: object) -> list[str]:
    v = _Spreads()
    visit(node, v)  # type: ignore[arg-type]
    return v.names


def operation_names() -> list[str]:
    """Every operation document's name (file stem), sorted."""
    return sorted(
        p.name.removesuffix(".graphql")
        for p in resources.files(__package__).iterdir()
        if p.name.endswith(".graphql") and p.name != FRAGMENTS_FILE
    )


@cache
def load(name: str) -> str:
    """The document for operation ``name`` with the fragments it uses appended."""
    text = _read(f"{name}.graphql")
    frags = _fragments()
    needed: list[str] = []
    todo = _spreads(parse(text))
    while todo:
        frag = todo.pop()
        if frag in needed:
            continue
        needed.append(frag)
        todo.extend(_spreads(frags[frag]))
    parts = [text.strip()] + [print_ast(frags[f]) for f in sorted(needed)]
    return "\n\n".join(parts) + "\n"


@cache
def is_mutation(name: str) -> bool:
    """Whether the operation is a mutation (a write)."""
    doc = parse(_read(f"{name}.graphql"))
    return any(isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
               for d in doc.definitions)
