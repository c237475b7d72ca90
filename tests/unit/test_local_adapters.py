"""Local mode's structure: one sample adapter per domain (fails loudly without one) and an acyclic `finlake.local`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from finlake.local import sources
from finlake.local.workspace import Workspace
from finlake.samples import registry
from finlake.samples.registry import MissingAdapter, adapter, adapters
from stacks.specs import BNDES, DOMAINS, ROOT

LOCAL = ROOT / "finlake" / "local"


def module_imports(path: Path, package: str) -> set[str]:
    """The ``package`` modules ``path`` imports at run time, at module level or inside functions;
    imports under ``if TYPE_CHECKING:`` (annotations only, never executed) are left out."""
    tree = ast.parse(path.read_text("utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {
            name
            for name in names
            if name.startswith(package + ".")
            and (LOCAL / f"{name.split('.')[-1]}.py").exists()
            and name.count(".") == 2
        }
    return found


def import_graph() -> dict[str, set[str]]:
    """``finlake.local.<module>`` -> the ``finlake.local`` modules it imports."""
    return {
        f"finlake.local.{p.stem}": module_imports(p, "finlake.local")
        for p in LOCAL.glob("*.py")
        if p.stem != "__init__"
    }


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as [a, b, ..., a], or [] when it has none (depth-first search)."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return []


def test_finlake_local_imports_no_module_that_imports_it_back():
    graph = import_graph()
    assert "finlake.local.runtime" in graph and "finlake.local.runner" in graph["finlake.local.redrive"]
    assert cycle(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


def test_every_deployed_domain_has_its_adapter():
    assert [each.domain for each in adapters()] == list(DOMAINS)


def test_a_domain_without_an_adapter_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fifth domain deployed without ``finlake/samples/<domain>.py`` is refused by name, by every path
    local mode takes (a run, the demo, secrets), instead of running on defaults."""
    with pytest.raises(
        MissingAdapter, match=r"no local-mode adapter for domain 'example'.*finlake/samples/example\.py"
    ):
        adapter("example")
    monkeypatch.setitem(DOMAINS, "example", BNDES)
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(MissingAdapter, match="'example'"):
        sources.demo_plans(ws)
    with pytest.raises(MissingAdapter, match="'example'"):
        sources.local_secret(ws, "example", "hmac")


def test_a_module_listed_without_its_adapter_fails_loudly(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(registry.MODULES, "example", "finlake.samples.b3")  # a codec, no ADAPTER
    with pytest.raises(MissingAdapter, match=re.escape("finlake.samples.b3 defines no ADAPTER for domain 'example'")):
        adapter("example")
