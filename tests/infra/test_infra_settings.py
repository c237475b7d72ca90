"""Typed settings from cdk.json context (no synthesis: fast)."""

from __future__ import annotations

import json

import pytest

from stacks.settings import ScheduleSetting, Settings
from stacks.specs import BNDES, ROOT

CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]["finlake"]


def test_cdk_json_context_parses_into_settings() -> None:
    settings = Settings.from_context(CONTEXT)
    assert settings.notification_emails == tuple(CONTEXT["notification_emails"])
    assert settings.log_retention_days == 90
    assert settings.schedule_for(BNDES) == ScheduleSetting(enabled=True, expression=BNDES.schedule)


def test_schedule_override_and_layer_region() -> None:
    context = {**CONTEXT, "schedules": {"bndes": {"enabled": False, "expression": "rate(1 day)"}}}
    settings = Settings.from_context(context)
    assert settings.schedule_for(BNDES) == ScheduleSetting(enabled=False, expression="rate(1 day)")
    pandas, powertools = settings.layer_arns("sa-east-1")
    assert pandas.startswith("arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python314:")
    assert powertools.startswith("arn:aws:lambda:sa-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314")


@pytest.mark.parametrize(
    "override",
    [
        {"pandas_layer_arn": "arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python314:6"},
        {"athena_bytes_scanned_cutoff": 1024},
    ],
)
def test_invalid_settings_are_rejected(override: dict) -> None:
    with pytest.raises(ValueError):
        Settings.from_context({**CONTEXT, **override})
