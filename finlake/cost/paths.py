"""State machine definitions: the states a successful execution passes through (its billed transitions)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def _expand(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A state, followed by the states its Parallel branches or its Map iteration (counted once) pass through."""
    inner: list[Mapping[str, Any]] = []
    for branch in state.get("Branches", []):
        inner += longest_success_path(branch)
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if processor:
        inner += longest_success_path(processor)
    return [state, *inner]


def _paths(states: Mapping[str, Any], name: str, seen: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    state = states[name]
    path = (*seen, name)
    kind = state["Type"]
    if kind == "Fail":
        return
    if kind == "Succeed" or state.get("End"):
        yield path
        return
    targets = [c["Next"] for c in state.get("Choices", [])] if kind == "Choice" else [state["Next"]]
    if kind == "Choice" and "Default" in state:
        targets.append(state["Default"])
    for target in dict.fromkeys(targets):
        if target not in path:  # a loop is walked once
            yield from _paths(states, target, path)


def success_paths(definition: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Every path from StartAt to a successful end, following Next and Choice (never Catch)."""
    return list(_paths(definition["States"], definition["StartAt"], ()))


def longest_success_path(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The states of the longest successful path (a run with new data), Parallel branches and Map iterations inlined."""
    path = max(success_paths(definition), key=len)
    return [s for name in path for s in _expand({**definition["States"][name], "Name": name})]


def shortest_success_path(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The states of the shortest successful path (e.g. nothing new), Parallel branches and Map iterations inlined."""
    path = min(success_paths(definition), key=len)
    return [s for name in path for s in _expand({**definition["States"][name], "Name": name})]
