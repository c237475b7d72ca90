"""What the console shows, read from the workspace: runs, a run's state graph, dead letters, the catalog.

Pure reads of the files `finlake.local.workspace.Workspace` keeps (no embedded AWS).

The state graph is drawn from the definition in ``statemachines/<domain>.asl.json`` as the Step
Functions console draws it: one node per state (Start and End added), an edge per ``Next``,
``Default``, Choice rule and ``Catch``, each state colored by what happened to it in the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from finlake.local.sources import mock_workspace
from finlake.local.workspace import Workspace
from finlake.ops.executions import base_name
from stacks.specs import DOMAINS

# What happened to a state in a run, as the Step Functions console's legend says it.
SUCCEEDED, FAILED, CAUGHT, NOT_RUN, RUNNING = "succeeded", "failed", "caught", "not-run", "running"


@dataclass(frozen=True)
class RunRow:
    """One execution in the runs list.

    ``rows``: rows in / valid / quarantined, or "" when the run reported no counts; ``partition``: the date, month or
    year it ran for.
    """

    domain: str
    name: str
    status: str
    started: str  # ISO-8601, UTC
    duration_s: float
    partition: str
    rows: str
    home: str  # the workspace folder holding the record (the bank mock's is apart)


def homes(ws: Workspace) -> list[Workspace]:
    """The workspace and, when it exists, the bank mock's (where `finlake run bank` writes)."""
    mock = mock_workspace(ws)
    return [ws, mock] if mock.root != ws.root and (mock.root / "runs").exists() else [ws]


def partition_of(record: dict[str, Any]) -> str:
    """The partition a run was for: the input's date, month or year, else its output's partition values; "" if none."""
    request = record.get("input") or {}
    output = record.get("output") or {}
    found = request.get("date") or request.get("month") or request.get("year")
    if not found and isinstance(output.get("partition"), dict):
        found = ", ".join(str(v) for v in output["partition"].values())
    return str(found or "")


def rows_of(record: dict[str, Any]) -> str:
    """``rows in / valid / quarantined`` of a run record's output counts, or "" when it reported none."""
    counts = (record.get("output") or {}).get("counts") or {}
    if not counts:
        return ""
    return f"{counts.get('rows_in', 0)} / {counts.get('rows_valid', 0)} / {counts.get('rows_quarantined', 0)}"


def run_rows(ws: Workspace) -> list[RunRow]:
    """Every local execution, newest first."""
    rows = [
        RunRow(
            domain=str(record.get("domain", "?")),
            name=record["name"],
            status=record["status"],
            started=record["started"],
            duration_s=float(record.get("duration_s") or 0),
            partition=partition_of(record),
            rows=rows_of(record),
            home=str(home.root),
        )
        for home in homes(ws)
        for record in home.runs()
    ]
    return sorted(rows, key=lambda r: r.started, reverse=True)


def find_run(ws: Workspace, name: str) -> tuple[Workspace, dict[str, Any]] | None:
    """(its workspace, the newest record) of execution ``name``, or None."""
    found = [(home, r) for home in homes(ws) for r in home.runs() if r["name"] == name]
    return found[-1] if found else None


def dead_letter(home: Workspace, name: str) -> dict[str, Any] | None:
    """The newest dead-letter message of ``name``'s run (or of a rerun of it) still on the queue."""
    letters = [
        item for item in home.dead_letters() if base_name(item["body"].get("execution_name", "")) == base_name(name)
    ]
    return max(letters, key=lambda item: item["sent"]) if letters else None


def definition(domain: str) -> dict[str, Any]:
    """The parsed definition (ASL) of ``domain`` (``spec.definition_path``)."""
    loaded: dict[str, Any] = json.loads(DOMAINS[domain].definition_path.read_text())
    return loaded


def transitions(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(target, kind) of each way out of a state: next, default, choice, catch."""
    out: list[tuple[str, str]] = []
    if state.get("Next"):
        out.append((state["Next"], "next"))
    for rule in state.get("Choices", []):
        out.append((rule["Next"], "choice"))
    if state.get("Default"):
        out.append((state["Default"], "default"))
    for catcher in state.get("Catch", []):
        out.append((catcher["Next"], "catch"))
    return list(dict.fromkeys(out))


def state_status(name: str, state: dict[str, Any], seen: dict[str, dict[str, Any]], record: dict[str, Any]) -> str:
    """The status of state ``name`` in a run: not run, succeeded, failed, caught (its Catch took the error) or running.

    ``seen`` maps each state the run entered to its item in the run record's ``states``.
    """
    item = seen.get(name)
    if item is None:
        return NOT_RUN
    if state["Type"] == "Fail":
        return FAILED
    if item.get("error"):
        caught = any(target in seen for target, kind in transitions(state) if kind == "catch")
        return CAUGHT if caught else FAILED
    if item.get("exited") is None:
        return FAILED if record.get("status") != "RUNNING" else RUNNING
    return SUCCEEDED


def graph_elements(domain: str, record: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Cytoscape elements of the domain's definition.

    Nodes ``{id, label, type, status}`` with the state's class (its status in ``record``), edges ``{source, target,
    kind}``; Start and End nodes as the console draws them.
    """
    asl = definition(domain)
    record = record or {}
    seen = {item["state"]: item for item in record.get("states", [])}
    started = bool(record)
    ended = record.get("status") == "SUCCEEDED"
    elements: list[dict[str, Any]] = [
        {"data": {"id": "Start", "label": "Start", "type": "Start", "width": 60}, "classes": "terminal"},
        {"data": {"id": "End", "label": "End", "type": "End", "width": 60}, "classes": "terminal"},
        {
            "data": {"id": "Start->" + asl["StartAt"], "source": "Start", "target": asl["StartAt"], "kind": "next"},
            "classes": "next" + (" taken" if started else ""),
        },
    ]
    for name, state in asl["States"].items():
        status = state_status(name, state, seen, record)
        elements.append(
            {
                "data": {
                    "id": name,
                    "label": name,
                    "type": state["Type"],
                    "status": status,
                    "width": 8 * len(name) + 16,
                },
                "classes": status,
            }
        )
        for target, kind in transitions(state):
            taken = (name in seen and target in seen and kind != "catch") or (kind == "catch" and status == CAUGHT)
            elements.append(
                {
                    "data": {"id": f"{name}->{target}:{kind}", "source": name, "target": target, "kind": kind},
                    "classes": kind + (" taken" if taken else ""),
                }
            )
        if state.get("End") or state["Type"] in {"Succeed", "Fail"}:
            taken = name in seen and (ended or state["Type"] == "Fail")
            elements.append(
                {
                    "data": {"id": f"{name}->End", "source": name, "target": "End", "kind": "end"},
                    "classes": "end" + (" taken" if taken else ""),
                }
            )
    return elements


def state_detail(domain: str, record: dict[str, Any], name: str) -> dict[str, Any]:
    """What the console shows of one state.

    Type, status, duration (s), input, output (JSON text, indented), error and cause; ``None`` for what the run did not
    record.
    """
    asl = definition(domain)
    seen = {item["state"]: item for item in record.get("states", [])}
    state = asl["States"].get(name)
    if state is None:
        return {"state": name, "type": name, "status": "", "comment": ""}
    item = seen.get(name, {})
    return {
        "state": name,
        "type": state["Type"],
        "comment": state.get("Comment", ""),
        "status": state_status(name, state, seen, record),
        "duration_s": item.get("duration_s"),
        "input": pretty(item.get("input")),
        "output": pretty(item.get("output")),
        "error": item.get("error"),
        "cause": item.get("cause"),
    }


def pretty(text: str | None) -> str | None:
    """``text`` indented as JSON when it parses, else as it is; None stays None."""
    if text is None:
        return None
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@dataclass(frozen=True)
class TableInfo:
    """A catalog table as the Lake page lists it."""

    database: str
    name: str
    description: str
    location: str
    columns: list[tuple[str, str, str]]  # (name, type, comment); partition keys last
    partition_keys: list[str]
    partitions: list[str]  # each partition's values, joined with "/", newest first


def catalog_tables(ws: Workspace) -> list[TableInfo]:
    """Every table of the workspace's Glue catalog (``catalog.json``), by database then name."""
    catalog: dict[str, dict[str, Any]] = ws.read_json("catalog.json", {})
    tables = []
    for database, entries in sorted(catalog.items()):
        for name, entry in sorted(entries.items()):
            table = entry["table"]
            keys = table.get("PartitionKeys", [])
            columns = [(c["Name"], c["Type"], c.get("Comment", "")) for c in table["StorageDescriptor"]["Columns"]]
            columns += [
                (k["Name"], k["Type"], "partition key" + (f": {k['Comment']}" if k.get("Comment") else ""))
                for k in keys
            ]
            tables.append(
                TableInfo(
                    database=database,
                    name=name,
                    description=table.get("Description", ""),
                    location=table["StorageDescriptor"]["Location"],
                    columns=columns,
                    partition_keys=[k["Name"] for k in keys],
                    partitions=sorted(("/".join(p["Values"]) for p in entry["partitions"]), reverse=True),
                )
            )
    return tables


def has_table(ws: Workspace, qualified: str) -> bool:
    """Whether the workspace's catalog has ``database.table`` (``qualified``)."""
    database, _, name = qualified.partition(".")
    catalog: dict[str, dict[str, Any]] = ws.read_json("catalog.json", {})
    return name in catalog.get(database, {})
