"""The typed execution input (`RunRequest`) and the step runtime's input parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.common.manifest import Manifest
from functions.common.naming import RunRequest, RunRequestError
from functions.common.step import input_type, parse_input


def test_names_are_the_ones_the_hand_built_inputs_got():
    """Pinned from the dict builders this replaces (execution_input + added keys, before issue 15): the
    names of runs already in an account (Step Functions keeps them 90 days) must not change."""
    cards = RunRequest(
        domain="cards", trigger="s3", month="2024-09", inputs=("s3://raw/inbox/cards/a.csv",), inputs_md5=("0" * 32,)
    )
    assert cards.name("2024-09") == "cards-2024-09-831dd27c"
    assert RunRequest(domain="bndes", date="2026-11-22").name("2026-11-22") == "bndes-2026-11-22-5d4f5e6c"
    assert RunRequest(domain="stocks", year="2024", force=True).name("2024") == "stocks-2024-e7a6d1e1"


def test_unset_fields_stay_out_of_the_input():
    assert RunRequest(domain="bank", month="2024-09").to_input() == {
        "domain": "bank",
        "trigger": "cli",
        "month": "2024-09",
    }


texts = st.none() | st.text(min_size=1, max_size=12)
uris = st.lists(st.text(min_size=1, max_size=20), max_size=3).map(tuple)


@given(
    st.builds(
        RunRequest,
        domain=st.sampled_from(["bndes", "stocks", "cards", "bank"]),
        trigger=st.sampled_from(["cli", "schedule", "s3"]),
        date=texts,
        month=texts,
        year=texts,
        inputs=uris,
        inputs_md5=uris,
        force=st.booleans(),
        source=texts,
        unplaced=st.booleans(),
    )
)
def test_parse_of_the_input_gives_the_request_back(request: RunRequest):
    assert RunRequest.from_input(request.to_input()) == request


def test_fetch_event_carries_the_execution_name_beside_the_input():
    event = {"input": {"domain": "bndes", "date": "2026-11-22"}, "execution_name": "bndes-2026-11-22-x"}
    request = parse_input(event, RunRequest)
    assert isinstance(request, RunRequest) and request.run_id == "bndes-2026-11-22-x"
    assert request.date == "2026-11-22" and not request.force
    assert RunRequest.from_event({"input": None, "execution_name": "n"}) == RunRequest()  # today's live run


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dat": "2026-11-22"}, "unknown field\\(s\\) dat"),
        ({"force": "yes"}, "force must be true or false"),
        ({"inputs": "s3://raw/a.csv"}, "inputs must be a list of strings"),
        ({"date": 20261122}, "date must be a string"),
    ],
)
def test_an_input_that_is_no_run_request_is_refused_naming_the_field(data: dict, message: str):
    with pytest.raises(RunRequestError, match=message):
        RunRequest.from_input(data)


def test_the_consoles_default_input_is_todays_run_and_other_unknown_fields_are_still_refused():
    """The Step Functions console's "Start execution" offers {"Comment": "Insert your JSON here"}."""
    assert RunRequest.from_input({"Comment": "Insert your JSON here"}) == RunRequest()
    assert RunRequest.from_input({"Comment": "rerun", "date": "2026-11-22"}) == RunRequest(date="2026-11-22")
    with pytest.raises(RunRequestError, match="unknown field\\(s\\) comment"):
        RunRequest.from_input({"Comment": "x", "comment": "y"})


def test_a_step_says_what_it_takes_by_its_first_annotation():
    def fetch(request: RunRequest, *, lake: object) -> Manifest: ...

    def validate(manifest: Manifest, *, lake: object) -> Manifest: ...

    def untyped(event, *, lake): ...

    assert input_type(fetch) is RunRequest and input_type(validate) is Manifest
    with pytest.raises(TypeError, match="RunRequest or a Manifest"):
        input_type(untyped)
