"""Typed settings from cdk.json context (no synthesis: fast)."""

from __future__ import annotations

import json

import pytest

from stacks.settings import GoogleSheetsSetting, ScheduleSetting, Settings
from stacks.specs import BANK, BNDES, ROOT

CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]["finlake"]


def test_cdk_json_context_parses_into_settings() -> None:
    settings = Settings.from_context(CONTEXT)
    assert settings.notification_emails == tuple(CONTEXT["notification_emails"])
    assert settings.log_retention_days == 90
    assert settings.schedule_for(BNDES) == ScheduleSetting(enabled=True, expression=BNDES.schedule)


def test_schedule_override() -> None:
    context = {**CONTEXT, "schedules": {"bndes": {"enabled": False, "expression": "rate(1 day)"}}}
    settings = Settings.from_context(context)
    assert settings.schedule_for(BNDES) == ScheduleSetting(enabled=False, expression="rate(1 day)")


@pytest.mark.parametrize(
    "override",
    [
        # layers are not settings any more (stacks/lambda_layers.json): an old cdk.json key is refused
        {"pandas_layer_arn": "arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python314:6"},
        {"athena_bytes_scanned_cutoff": 1024},
    ],
)
def test_invalid_settings_are_rejected(override: dict) -> None:
    with pytest.raises(ValueError):
        Settings.from_context({**CONTEXT, **override})


def test_google_sheets_is_off_by_default_and_maps_to_its_environment() -> None:
    settings = Settings.from_context(CONTEXT)
    assert settings.google_sheets == GoogleSheetsSetting()
    assert settings.optional_enabled("google_sheets") is False
    assert settings.optional_environment("google_sheets") == {}
    on = Settings.from_context({**CONTEXT, "google_sheets": {"enabled": True, "spreadsheet_id": "abc123"}})
    assert on.optional_enabled("google_sheets") is True
    assert on.optional_environment("google_sheets") == {
        "SHEETS_SPREADSHEET_ID": "abc123",
        "SHEETS_WORKSHEET": "bank_monthly_summary",
    }


def test_google_sheets_enabled_needs_a_spreadsheet_id() -> None:
    with pytest.raises(ValueError, match="spreadsheet_id"):
        Settings.from_context({**CONTEXT, "google_sheets": {"enabled": True}})


def test_an_unknown_optional_setting_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown optional setting"):
        Settings.from_context(CONTEXT).optional_enabled("slack")


def test_the_bank_schedule_is_off_by_default() -> None:
    assert Settings.from_context(CONTEXT).schedule_for(BANK).enabled is False
