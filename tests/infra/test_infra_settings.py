"""Typed settings from cdk.json context (no synthesis: fast)."""

from __future__ import annotations

import json

import pytest

from stacks.settings import GoogleSheetsSetting, ScheduleSetting, Settings
from stacks.specs import BANK, BNDES, DOMAINS, ROOT

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


def test_schedules_are_opt_in() -> None:
    """A domain absent from cdk.json's schedules is not scheduled (it was ON by omission), and an entry
    must say whether it is on: a missing or non-boolean ``enabled`` is refused, naming the domain."""
    without_bndes = {k: v for k, v in CONTEXT["schedules"].items() if k != "bndes"}
    settings = Settings.from_context({**CONTEXT, "schedules": without_bndes})
    assert settings.schedule_for(BNDES) == ScheduleSetting(enabled=False, expression=BNDES.schedule)
    assert Settings.from_context({**CONTEXT, "schedules": {}}).schedule_for(BNDES).enabled is False
    for entry in ({}, {"expression": "rate(1 day)"}, {"enabled": "false"}):
        with pytest.raises(ValueError, match=r"schedules\.bndes needs \"enabled\""):
            Settings.from_context({**CONTEXT, "schedules": {"bndes": entry}})


def test_cdk_json_states_every_domains_schedule_and_keeps_todays_defaults() -> None:
    """Opt-in changed no deployed default: cdk.json names each domain, bank alone off."""
    schedules = Settings.from_context(CONTEXT).schedules
    assert set(schedules) == set(DOMAINS)
    assert {name: s.enabled for name, s in schedules.items()} == {
        "bndes": True,
        "stocks": True,
        "cards": True,
        "bank": False,
    }


def test_a_schedule_for_an_unknown_domain_is_refused() -> None:
    settings = Settings.from_context({**CONTEXT, "schedules": {"bdnes": {"enabled": True}}})
    with pytest.raises(ValueError, match="bdnes; known: bank, bndes, cards, stocks"):
        settings.check_schedules(DOMAINS)
    Settings.from_context(CONTEXT).check_schedules(DOMAINS)
