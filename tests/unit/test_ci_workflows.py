"""The GitHub Actions workflows cannot run here: keep them honest by reading them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def run_commands(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_every_command_is_a_makefile_target(name: str):
    commands = run_commands(load(name))
    assert commands
    for command in commands:
        match = re.fullmatch(r"make ([\w-]+)", command.strip())
        assert match, f"{name}: {command!r} should be a Makefile target, so CI runs what developers run"
        assert match[1] in make_targets(), f"{name}: make {match[1]} does not exist"


def test_ci_lints_type_checks_tests_and_synthesizes_on_pushes_and_pull_requests():
    ci = load("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert run_commands(ci) == ["make lint", "make test", "make synth"]
    assert ci["permissions"] == {"contents": "read"}


def test_deploy_assumes_a_role_through_oidc_and_never_uses_long_lived_keys():
    text = (WORKFLOWS / "deploy.yml").read_text()
    deploy = load("deploy.yml")
    assert deploy["permissions"]["id-token"] == "write"
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text and "secrets.AWS" not in text
    for job in deploy["jobs"].values():
        [credentials] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("aws-actions/configure-aws")]
        assert credentials["with"]["role-to-assume"].startswith("${{ vars.")


def test_diff_on_pull_requests_and_deploy_on_main_behind_an_approval():
    jobs = load("deploy.yml")["jobs"]
    assert jobs["diff"]["if"] == "github.event_name == 'pull_request'"
    assert run_commands({"jobs": {"diff": jobs["diff"]}}) == ["make cdk-diff"]
    assert "refs/heads/main" in jobs["deploy"]["if"] and "push" in jobs["deploy"]["if"]
    assert jobs["deploy"]["environment"] == "production"
    commands = run_commands({"jobs": {"deploy": jobs["deploy"]}})
    assert commands.index("make test") < commands.index("make cdk-deploy")


def test_the_cdk_targets_use_the_pinned_cli():
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^CDK_CLI := aws-cdk@(2\.1\d{3}\.\d+)$", makefile, flags=re.MULTILINE)
    assert pinned, "pin a 2.1xxx CDK CLI: the 3.x CLI rejects this cloud-assembly schema"
    for target in ("cdk-synth", "cdk-diff", "cdk-deploy"):
        body = makefile.split(f"\n{target}:")[1].split("\n\n")[0]
        assert "$(CDK_CLI)" in body, target
