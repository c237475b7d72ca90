"""The console's graph model: every state and transition of the definition, each state's status in a
run as the Step Functions console colors it; CSV with LF line ends."""

from __future__ import annotations

from decimal import Decimal

from finlake.console.app import _cell
from finlake.console.data import definition, graph_elements, state_detail, transitions
from finlake.query import to_csv

FAILED_AT_FETCH = {  # what a bndes run that failed at Fetch records (finlake.local.runtime._state_history)
    "domain": "bndes",
    "status": "FAILED",
    "states": [
        {"state": "Fetch", "type": "Task", "entered": "t0", "exited": None, "input": '{"date": "2026-11-23"}',
         "error": "SourceFormatError", "cause": "an HTML page"},
        {"state": "FetchFailed", "type": "Pass", "entered": "t1", "exited": "t1", "duration_s": 0.0},
        {"state": "NotifyFailure", "type": "Task", "entered": "t1", "exited": "t2", "duration_s": 0.1},
        {"state": "SendToDeadLetterQueue", "type": "Task", "entered": "t2", "exited": "t2", "duration_s": 0.0},
        {"state": "Fail", "type": "Fail", "entered": "t2", "exited": None},
    ],
}  # fmt: skip


def nodes_and_edges(elements: list[dict]) -> tuple[dict[str, dict], list[dict]]:
    nodes = {e["data"]["id"]: e for e in elements if "source" not in e["data"]}
    return nodes, [e for e in elements if "source" in e["data"]]


def test_every_state_and_every_way_out_of_it_is_drawn():
    asl = definition("bndes")
    nodes, edges = nodes_and_edges(graph_elements("bndes"))

    assert set(nodes) == set(asl["States"]) | {"Start", "End"}
    pairs = {(e["data"]["source"], e["data"]["target"], e["data"]["kind"]) for e in edges}
    assert ("Start", "Fetch", "next") in pairs
    assert ("Fetch", "FetchFailed", "catch") in pairs and ("Fetch", "AnythingNew?", "next") in pairs
    assert {("AnythingNew?", "Validate", "choice"), ("AnythingNew?", "NothingNew", "default")} <= pairs
    assert ("NotifySuccess", "End", "end") in pairs and ("Fail", "End", "end") in pairs
    expected = sum(len(transitions(state)) for state in asl["States"].values())
    ends = sum(1 for s in asl["States"].values() if s.get("End") or s["Type"] in {"Succeed", "Fail"})
    assert len(edges) == expected + ends + 1


def test_a_caught_error_is_orange_the_fail_state_red_and_the_rest_not_run():
    nodes, edges = nodes_and_edges(graph_elements("bndes", FAILED_AT_FETCH))

    status = {name: node["data"].get("status") for name, node in nodes.items()}
    assert status["Fetch"] == "caught"
    assert status["FetchFailed"] == status["NotifyFailure"] == status["SendToDeadLetterQueue"] == "succeeded"
    assert status["Fail"] == "failed"
    assert status["Validate"] == status["NothingNew"] == status["ValidateFailed"] == "not-run"
    taken = {(e["data"]["source"], e["data"]["target"]) for e in edges if "taken" in e["classes"]}
    assert ("Fetch", "FetchFailed") in taken and ("Fetch", "AnythingNew?") not in taken


def test_a_states_detail_is_what_the_run_recorded():
    detail = state_detail("bndes", FAILED_AT_FETCH, "Fetch")

    assert detail["type"] == "Task" and detail["status"] == "caught"
    assert detail["input"] == '{\n  "date": "2026-11-23"\n}'
    assert detail["output"] is None  # it never exited
    assert (detail["error"], detail["cause"]) == ("SourceFormatError", "an HTML page")


def test_csv_has_lf_line_ends_and_quotes_what_needs_it():
    assert to_csv(["a", "b"], [(1, "x,y"), (None, 'say "hi"')]) == 'a,b\n1,"x,y"\n,"say ""hi"""\n'


def test_the_sql_grid_and_its_csv_write_values_as_athena():
    row = (True, Decimal("-120.41"), [Decimal("-120.41"), Decimal("-18.51")], {"k": 1}, 3, 0.5, None)
    assert [_cell(v) for v in row] == ["true", "-120.41", "[-120.41, -18.51]", "{k=1}", 3, 0.5, None]
    assert to_csv(["b", "d", "a"], [row[:3]]) == 'b,d,a\ntrue,-120.41,"[-120.41, -18.51]"\n'


def test_the_console_answers_only_its_own_host(tmp_path):
    """DNS-rebinding guard: a request whose Host is not 127.0.0.1/localhost at the console's port
    (a page of evil.example rebound to 127.0.0.1) gets 403, the SQL callback included."""
    from finlake.console.app import create_app
    from finlake.local.workspace import Workspace

    client = create_app(Workspace(tmp_path), port=8055).server.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8055"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost:8055"}).status_code == 200
    for host in ("evil.example:8055", "evil.example", "127.0.0.1:9999", "127.0.0.1.evil.example:8055"):
        assert client.get("/", headers={"Host": host}).status_code == 403, host
        assert client.post("/_dash-update-component", json={}, headers={"Host": host}).status_code == 403, host


def test_dashboard_tables_round_doubles_and_leave_nulls_empty():
    import pandas as pd

    from finlake.console.dashboards import table_cells

    df = pd.DataFrame({"name": ["PETR4", None], "ma_50": [18.147000000000001, float("nan")], "n": [3, 4]})
    assert table_cells(df) == [{"name": "PETR4", "ma_50": "18.147", "n": "3"}, {"name": "", "ma_50": "", "n": "4"}]
