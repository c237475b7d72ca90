"""The README's deploy commands reach the app the way the CDK CLI passes them, and work.

The CLI merges cdk.json's ``context`` with each ``-c key=value`` (a value from the command line is
always a string: AWS CDK Developer Guide, "Context values"; ``-c finlake=...`` replaces cdk.json's
whole ``finlake`` value) and hands the result to the app in the ``CDK_CONTEXT_JSON`` environment
variable, which ``App`` reads over the context the app passes itself (aws-cdk-lib ``App``:
"Context set by the CLI or the context key in cdk.json has precedence").
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.app import ContextError, cdk_json_context, finlake_context
from stacks.settings import Settings
from stacks.specs import ROOT

README = ROOT / "README.md"
DEFAULTS = cdk_json_context()["finlake"]


def deploy_commands() -> list[list[str]]:
    """Each ``cdk deploy`` command in the README's "Deploy to AWS" section, as argv."""
    text = README.read_text()
    section = text[text.index("## Deploy to AWS") :]
    section = section[: section.index("\n## ", 1)]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(command)
            if "deploy" in argv:
                commands.append(argv)
    return commands


def cli_context(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg in {"-c", "--context"})


def test_the_readme_shows_deploy_commands_with_context() -> None:
    commands = deploy_commands()
    assert len(commands) >= 2
    assert all(cli_context(argv) for argv in commands)


@pytest.mark.slow
@pytest.mark.parametrize("argv", deploy_commands(), ids=lambda argv: " ".join(argv[-4:])[:60])
def test_each_readme_deploy_command_synthesizes_with_its_settings(argv: list[str], tmp_path: Path) -> None:
    """``python app.py`` (cdk.json's "app") run as the CLI runs it, with exactly the README's ``-c``."""
    given = cli_context(argv)
    context = {**cdk_json_context(), **given, "aws:cdk:bundling-stacks": []}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    platform = json.loads((tmp_path / "FinlakePlatform.template.json").read_text())
    pipelines = json.loads((tmp_path / "FinlakePipelines.template.json").read_text())
    emails = {
        r["Properties"]["Endpoint"] for r in platform["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"
    }
    settings = Settings.from_context(finlake_context(given, DEFAULTS))
    assert emails == set(settings.notification_emails)
    assert all(email in json.dumps(given) for email in emails)
    schedules = {
        r["Properties"]["Name"]: r["Properties"]["State"]
        for r in pipelines["Resources"].values()
        if r["Type"] == "AWS::Scheduler::Schedule"
    }
    for name, setting in settings.schedules.items():
        assert schedules[f"finlake-{name}"] == ("ENABLED" if setting.enabled else "DISABLED")


def test_flat_keys_and_json_deep_merge_over_cdk_json() -> None:
    merged = finlake_context(
        {
            "finlake": '{"schedules": {"bndes": {"enabled": false}}}',
            "finlake.notification_emails": "a@example.com, b@example.com",
            "finlake.schedules.bank.enabled": "true",
            "finlake.log_retention_days": "30",
            "finlake.google_sheets.spreadsheet_id": "abc",
        },
        DEFAULTS,
    )
    assert merged["notification_emails"] == ["a@example.com", "b@example.com"]
    assert merged["schedules"]["bndes"] == {"enabled": False}
    assert merged["schedules"]["bank"] == {"enabled": True}
    assert merged["schedules"]["stocks"] == DEFAULTS["schedules"]["stocks"]  # untouched keys stay
    assert merged["log_retention_days"] == 30
    assert merged["google_sheets"] == {**DEFAULTS["google_sheets"], "spreadsheet_id": "abc"}
    Settings.from_context(merged)


def test_a_context_that_is_not_json_or_names_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ContextError, match="JSON object"):
        finlake_context({"finlake": "{notification_emails: a@b.c}"}, DEFAULTS)
    with pytest.raises(ValueError, match=r"unknown context finlake\.notification_email;"):
        Settings.from_context(finlake_context({"finlake.notification_email": "a@b.c"}, DEFAULTS))
