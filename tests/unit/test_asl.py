"""The definitions are rendered from the specs (stacks/asl.py) and committed: committed == rendered."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from stacks import asl, specs
from stacks.specs import BANK, CARDS, DOMAINS, STOCKS, Access, DomainSpec, GlueStep, LambdaStep


@pytest.mark.parametrize("spec", DOMAINS.values(), ids=list(DOMAINS))
def test_the_committed_definition_is_the_rendering_of_the_spec(spec: DomainSpec) -> None:
    assert spec.definition_path.read_text() == asl.render(spec), f"run `make asl` ({spec.definition_path.name})"


def test_make_asl_writes_what_differs_and_check_only_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(specs, "STATEMACHINES_DIR", tmp_path)
    assert asl.main([]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.asl.json" for name in DOMAINS)
    assert asl.main(["--check"]) == 0
    (tmp_path / "bndes.asl.json").write_text("{}\n")
    assert asl.write(check=True) == [tmp_path / "bndes.asl.json"]
    assert asl.main(["--check"]) == 1
    assert (tmp_path / "bndes.asl.json").read_text() == "{}\n"  # --check writes nothing
    assert asl.main([]) == 0 and asl.main(["--check"]) == 0


def test_make_asl_check_reports_a_definition_no_spec_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A domain renamed or removed leaves its old file behind: CDK would not deploy it, but it misleads."""
    monkeypatch.setattr(specs, "STATEMACHINES_DIR", tmp_path)
    assert asl.main([]) == 0
    orphan = tmp_path / "oldname.asl.json"
    orphan.write_text("{}\n", encoding="utf-8")
    assert asl.orphans() == [orphan]
    capsys.readouterr()
    assert asl.main(["--check"]) == 1
    assert "no spec in DOMAINS" in capsys.readouterr().out
    assert asl.main([]) == 0 and orphan.exists()  # reported, never deleted


def test_each_task_waits_its_steps_timeout_by_construction() -> None:
    """The Task timeouts come from the steps (the stocks Fetch/Validate drift cannot come back)."""
    fetch, validate, *rest = STOCKS.steps
    slower = dataclasses.replace(
        STOCKS,
        steps=(dataclasses.replace(fetch, timeout_s=700), dataclasses.replace(validate, timeout_s=850), *rest),
    )
    states = asl.definition(slower)["States"]
    assert (states["Fetch"]["TimeoutSeconds"], states["Validate"]["TimeoutSeconds"]) == (730, 880)
    transform = STOCKS.glue_jobs[0]
    assert states["Transform"]["TimeoutSeconds"] == 2 * 45 * 60 + 300 == transform.task_timeout_s


def test_the_steps_run_in_the_specs_order_and_comments_are_their_descriptions() -> None:
    definition = asl.definition(CARDS)
    states = definition["States"]
    path, name = [], definition["StartAt"]
    while name:
        path.append(name)
        state = states[name]
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state.get("Next")
    assert path == ["Fetch", "AnythingNew?", "Validate", "Transform", "Catalog", "NotifySuccess"]
    assert [s.step for s in CARDS.steps] == ["Fetch", "Validate", "Transform", "Catalog"]
    for step in CARDS.steps:
        assert states[step.step]["Comment"] == step.description
    assert states["Validate"]["Resource"] == asl.GLUE_START_JOB_RUN_SYNC
    assert states["Validate"]["Retry"] == [asl.GLUE_RETRY]
    assert states["Fetch"]["Retry"] == [asl.LAMBDA_RETRY]


def test_bank_emails_at_the_start_and_publishes_after_catalog() -> None:
    states = asl.definition(BANK)["States"]
    assert states["AnythingNew?"]["Choices"][0]["Next"] == "NotifyStart"
    assert states["NotifyStart"]["Next"] == "Validate"
    assert states["Catalog"]["Next"] == "Publish" and states["Publish"]["Next"] == "NotifySuccess"
    assert states["NotifyStart"]["Retry"] == [asl.NOTIFY_RETRY]
    assert "NotifyStart" not in asl.definition(CARDS)["States"]


def test_lambdas_and_glue_jobs_are_the_steps_of_each_kind_in_order() -> None:
    assert [s.step for s in STOCKS.lambdas] == ["Fetch", "Validate", "Catalog"]
    assert [s.step for s in STOCKS.glue_jobs] == ["Transform"]
    assert STOCKS.substitution_keys()[:4] == ["FetchFunction", "ValidateFunction", "CatalogFunction", "TransformJob"]


def test_step_settings_are_keyword_only_and_descriptions_fit_lambda() -> None:
    with pytest.raises(TypeError):
        LambdaStep("Fetch", "functions.x.handlers.fetch", Access(), 512, 300)  # type: ignore[misc]
    with pytest.raises(TypeError):
        GlueStep("Transform", "glue/x.py")  # type: ignore[misc]
    with pytest.raises(ValueError, match="256"):
        LambdaStep(step="Fetch", handler="functions.x.handlers.fetch", description="x" * 257)


@pytest.mark.parametrize("name", ["fx-rates", "fx_rates", "Rates", "1rates", "", "rates!"])
def test_a_domain_name_other_than_lowercase_letters_and_digits_is_refused(name: str) -> None:
    """A hyphen breaks the notifier's <prefix>-<domain>-<step>; an underscore, a CloudFormation output key."""
    with pytest.raises(ValueError, match="lowercase letters and digits"):
        dataclasses.replace(CARDS, name=name)
    assert dataclasses.replace(CARDS, name="rates2").name == "rates2"


def test_a_flow_the_skeleton_cannot_render_is_refused_or_hand_written() -> None:
    glue_first = dataclasses.replace(CARDS, steps=CARDS.steps[1:])
    with pytest.raises(ValueError, match="first step must be a LambdaStep"):
        asl.definition(glue_first)
    twice = dataclasses.replace(CARDS, steps=(*CARDS.steps, CARDS.steps[-1]))
    with pytest.raises(ValueError, match="unique"):
        asl.definition(twice)
    hand_written = dataclasses.replace(CARDS, name="handwritten", definition_file="tests/events/x.asl.json")
    assert hand_written.definition_path == specs.ROOT / "tests/events/x.asl.json"
    assert asl.generated([CARDS, hand_written]) == [CARDS]


def test_the_rendering_is_plain_stable_json() -> None:
    text = asl.render(BANK)
    assert text.endswith("}\n") and text == asl.render(BANK)
    assert text.startswith('{\n  "Comment": "finlake bank: ')
    assert json.loads(text)["TimeoutSeconds"] == BANK.timeout_min * 60
