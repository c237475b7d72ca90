"""The stocks domain's optional global sources (FRED, Alpha Vantage): off by default; when cdk.json turns
one on, its key secret exists, only the stocks Fetch role may read it, and Fetch gets its name, never a value."""

from __future__ import annotations

import json

import pytest

from stacks.settings import Settings
from stacks.specs import ROOT
from tests.infra.conftest import Synthesized, _synth
from tests.infra.test_infra_bank import READ_SECRET, _actions, _functions, _key_export, _roles_with, _secrets

pytestmark = pytest.mark.slow

NAMES = {"fred": "finlake/stocks/fred", "alpha_vantage": "finlake/stocks/alpha_vantage"}
FETCH = "functions.stocks.handlers.fetch"
GLOBAL_CONTEXT = {
    "fred": {"enabled": True, "series": ["DFF", "VIXCLS"]},
    "alpha_vantage": {"enabled": True, "watchlist": ["XLK", "XLF"], "function": "TIME_SERIES_DAILY"},
}


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app with cdk.json's context and both global sources turned on."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["finlake"] | GLOBAL_CONTEXT
    return _synth(tmp_path_factory.mktemp("cdk-global-sources"), context=context)


def test_both_are_off_by_default_and_documented_in_cdk_json(synthesized, cdk_context) -> None:
    assert not set(NAMES.values()) & set(_secrets(synthesized))
    env = _functions(synthesized)[FETCH]["Properties"]["Environment"]["Variables"]
    assert not [v for v in env if v.startswith(("FRED_", "ALPHA_VANTAGE_"))]
    settings = Settings.from_context(cdk_context)
    assert not settings.fred.enabled and not settings.alpha_vantage.enabled
    assert cdk_context["fred"]["series"] == ["DFF", "CPIAUCSL", "VIXCLS", "DGS10"]
    assert (
        cdk_context["alpha_vantage"]["watchlist"][-1] == "SPY" and len(cdk_context["alpha_vantage"]["watchlist"]) == 12
    )


def test_turned_on_each_key_secret_is_readable_by_stocks_fetch_only(variant) -> None:
    secrets = _secrets(variant)
    env = _functions(variant)[FETCH]["Properties"]["Environment"]["Variables"]
    assert env["FRED_SECRET"] == NAMES["fred"] and env["FRED_SERIES"] == "DFF,VIXCLS"
    assert env["ALPHA_VANTAGE_SECRET"] == NAMES["alpha_vantage"] and env["ALPHA_VANTAGE_WATCHLIST"] == "XLK,XLF"
    assert env["ALPHA_VANTAGE_FUNCTION"] == "TIME_SERIES_DAILY" and env["ALPHA_VANTAGE_PAUSE_S"] == "12.0"
    for name in NAMES.values():
        secret_id, secret = secrets[name]
        assert secret["Properties"]["KmsKeyId"] == {"Fn::ImportValue": _key_export(variant)}
        assert '"api_key"' in secret["Properties"]["Description"]
        assert f"put-secret-value --secret-id {name}" in secret["Properties"]["Description"]
        readers = _roles_with(
            variant, lambda st, i=secret_id: READ_SECRET in _actions(st) and st["Resource"] == {"Ref": i}
        )
        assert readers == {"StocksFetchRole"}, name
    for handler, function in _functions(variant).items():
        if handler != FETCH:
            variables = function["Properties"]["Environment"]["Variables"]
            assert not [v for v in variables if v.startswith(("FRED_", "ALPHA_VANTAGE_"))], handler


def test_turned_on_the_app_has_no_unacknowledged_aws_solutions_findings(variant) -> None:
    from aws_cdk import Stack
    from cdk_nag import AwsSolutionsChecks

    findings = [
        f"{violation.rule_name} {resource.construct_path}"
        for stack in variant.app.node.children
        if isinstance(stack, Stack)
        for violation in AwsSolutionsChecks().validate_scope(stack).violations
        for resource in violation.violating_resources
    ]
    assert findings == []
