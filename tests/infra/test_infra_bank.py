"""The bank domain's extras, all driven by its spec: the dependencies layer, the secrets and who may
read them, and the optional Google Sheets sink."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Validations

from stacks.specs import BANK, DOMAINS

pytestmark = pytest.mark.slow

PIPELINES = "FinlakePipelines"
PLATFORM = "FinlakePlatform"
READ_SECRET = "secretsmanager:GetSecretValue"


def _functions(s) -> dict[str, dict]:
    return {f["Properties"]["Handler"]: f for f in s.resources(PIPELINES, "AWS::Lambda::Function").values()}


def _bank_handlers() -> dict[str, str]:
    return {step.step: step.handler for step in BANK.lambdas}


def _secrets(s) -> dict[str, tuple[str, dict]]:
    """Secrets by name: (logical id, resource)."""
    return {v["Properties"]["Name"]: (k, v) for k, v in s.resources(PIPELINES, "AWS::SecretsManager::Secret").items()}


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def _roles_with(s, predicate: Any) -> set[str]:
    """Role logical ids (hash dropped: "BankFetchRole") whose policies have a statement matching ``predicate``."""
    roles = set()
    for policy in s.resources(PIPELINES, "AWS::IAM::Policy").values():
        if any(predicate(st) for st in policy["Properties"]["PolicyDocument"]["Statement"]):
            roles |= {re.sub(r"[0-9A-F]{8}$", "", r["Ref"]) for r in policy["Properties"]["Roles"]}
    return roles


def _key_export(s) -> str:
    """The export name of the platform KMS key's ARN."""
    (key_id,) = s.resources(PLATFORM, "AWS::KMS::Key")
    (name,) = [
        o["Export"]["Name"]
        for o in s.templates[PLATFORM]["Outputs"].values()
        if o.get("Value") == {"Fn::GetAtt": [key_id, "Arn"]} and "Export" in o
    ]
    return name


# -- the dependencies layer -------------------------------------------------------------------------


def _bank_layer(synthesized) -> tuple[str, dict]:
    layers = synthesized.resources(PIPELINES, "AWS::Lambda::LayerVersion")
    assert len(layers) == 2  # the stack's common layer and the bank's; no other domain has one
    (layer_id,) = [k for k in layers if k.startswith("BankDependenciesLayer")]
    return layer_id, layers[layer_id]


def test_bank_steps_have_the_managed_layers_and_the_dependencies_layer(synthesized) -> None:
    layer_id, layer = _bank_layer(synthesized)
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    functions = _functions(synthesized)
    for handler in _bank_handlers().values():
        layers = functions[handler]["Properties"]["Layers"]
        assert len(layers) == 4, handler
        assert "PandasLayerArns" in json.dumps(layers[0])
        assert "/aws/service/powertools/python/x86_64/python3.14/" in json.dumps(layers[1])
        assert "FinlakeCommonLayer" in json.dumps(layers[2])
        assert layers[3] == {"Ref": layer_id}
    # The S3 trigger imports functions.bank.handlers (-> pipeline -> ofxtools): it needs the layer too.
    assert functions[BANK.trigger.handler]["Properties"]["Layers"][3] == {"Ref": layer_id}  # type: ignore[union-attr]
    for handler, function in functions.items():
        if not handler.startswith("functions.bank."):
            assert {"Ref": layer_id} not in function["Properties"]["Layers"], handler


def test_tests_synthesize_the_layer_without_bundling(synthesized) -> None:
    """``aws:cdk:bundling-stacks = []`` (conftest): the layer's asset is its source folder, pip never ran."""
    assets = json.loads((synthesized.outdir / f"{PIPELINES}.assets.json").read_text())["files"]
    _, layer = _bank_layer(synthesized)
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    assert assets[asset_hash]["source"]["path"].endswith("functions/bank")
    assert not (synthesized.outdir / f"asset.{asset_hash}").exists()


# -- secrets ----------------------------------------------------------------------------------------


def test_secrets_are_named_kms_encrypted_and_retained(synthesized) -> None:
    secrets = _secrets(synthesized)
    assert set(secrets) == {"finlake/bank/nubank", "finlake/bank/bank_hmac"}  # google_sheets is off
    key_export = _key_export(synthesized)
    for _, secret in secrets.values():
        assert secret["Properties"]["KmsKeyId"] == {"Fn::ImportValue": key_export}
        assert secret["DeletionPolicy"] == "RetainExceptOnCreate"  # kept, except after a failed first create
        assert secret["UpdateReplacePolicy"] == "Retain"
    hmac = secrets["finlake/bank/bank_hmac"][1]["Properties"]
    assert hmac["GenerateSecretString"] == {"PasswordLength": 64, "ExcludePunctuation": True}
    nubank = secrets["finlake/bank/nubank"][1]["Properties"]
    assert "put-secret-value --secret-id finlake/bank/nubank" in nubank["Description"]
    assert "cpf, password, certificate_p12_base64" in nubank["Description"]
    assert "placeholder" in json.loads(nubank["GenerateSecretString"]["SecretStringTemplate"])


@pytest.mark.parametrize(
    ("name", "steps"), [("finlake/bank/nubank", {"Fetch"}), ("finlake/bank/bank_hmac", {"Validate"})]
)
def test_each_secret_is_readable_only_by_the_steps_that_list_it(synthesized, name: str, steps: set[str]) -> None:
    secret_id, _ = _secrets(synthesized)[name]
    readers = _roles_with(synthesized, lambda st: READ_SECRET in _actions(st) and st["Resource"] == {"Ref": secret_id})
    assert readers == {f"Bank{step}Role" for step in steps}
    assert steps == {step.step for step in BANK.lambdas if name.rsplit("/", 1)[1] in step.secrets}


def test_no_role_reads_secrets_it_was_not_given(synthesized) -> None:
    readers = _roles_with(synthesized, lambda st: any(a.startswith("secretsmanager:") for a in _actions(st)))
    assert readers == {"BankFetchRole", "BankValidateRole"}
    for policy in synthesized.resources(PIPELINES, "AWS::IAM::Policy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(a.startswith("secretsmanager:") for a in _actions(st)):
                assert _actions(st) == [READ_SECRET, "secretsmanager:DescribeSecret"]
                assert "Ref" in st["Resource"]  # one named secret, never "*"


def test_secret_readers_decrypt_with_the_lake_key_only_through_secrets_manager(synthesized) -> None:
    key = {"Fn::ImportValue": _key_export(synthesized)}

    def via_secrets_manager(st: dict) -> bool:
        return (
            _actions(st) == ["kms:Decrypt"]
            and st["Resource"] == key
            and "secretsmanager." in json.dumps(st.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService"))
        )

    assert _roles_with(synthesized, via_secrets_manager) == {"BankFetchRole", "BankValidateRole"}


def test_functions_get_secret_names_never_values(synthesized) -> None:
    names = {BANK.secret_name(s.key) for s in BANK.secrets}
    for handler, function in _functions(synthesized).items():
        env = function["Properties"]["Environment"]["Variables"]
        for variable, value in env.items():
            if variable.endswith("_SECRET"):
                assert value in names, (handler, variable)
    fetch = _functions(synthesized)[_bank_handlers()["Fetch"]]["Properties"]["Environment"]["Variables"]
    validate = _functions(synthesized)[_bank_handlers()["Validate"]]["Properties"]["Environment"]["Variables"]
    assert fetch["NUBANK_SECRET"] == "finlake/bank/nubank"
    assert validate["BANK_HMAC_SECRET"] == "finlake/bank/bank_hmac"
    assert "BANK_HMAC_SECRET" not in fetch and "NUBANK_SECRET" not in validate


def test_every_secret_acknowledges_rotation_with_its_own_reason(synthesized) -> None:
    reasons = {}
    for construct in synthesized.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                reasons |= {construct.node.path: r for rule, r in entry.data.items() if rule.endswith("-SMG4")}  # noqa: B035
    assert sorted(reasons) == ["FinlakePipelines/Bank/BankHmacSecret", "FinlakePipelines/Bank/NubankSecret"]
    assert "re-keying" in reasons["FinlakePipelines/Bank/BankHmacSecret"]
    assert "outside AWS" in reasons["FinlakePipelines/Bank/NubankSecret"]


# -- the optional Google Sheets sink ------------------------------------------------------------------


def test_google_sheets_is_off_by_default(synthesized) -> None:
    assert "finlake/bank/google_sheets" not in _secrets(synthesized)
    publish = _functions(synthesized)[_bank_handlers()["Publish"]]["Properties"]["Environment"]["Variables"]
    assert not {"GOOGLE_SHEETS_SECRET", "SHEETS_SPREADSHEET_ID", "SHEETS_WORKSHEET"} & set(publish)


def test_google_sheets_enabled_creates_the_secret_and_configures_publish(variant) -> None:
    secrets = _secrets(variant)
    secret_id, secret = secrets["finlake/bank/google_sheets"]
    assert secret["Properties"]["KmsKeyId"] == {"Fn::ImportValue": _key_export(variant)}
    publish = _functions(variant)[_bank_handlers()["Publish"]]["Properties"]["Environment"]["Variables"]
    assert publish["GOOGLE_SHEETS_SECRET"] == "finlake/bank/google_sheets"
    assert publish["SHEETS_SPREADSHEET_ID"] == "abc123"
    assert publish["SHEETS_WORKSHEET"] == "bank_monthly_summary"
    readers = _roles_with(variant, lambda st: READ_SECRET in _actions(st) and st["Resource"] == {"Ref": secret_id})
    assert readers == {"BankPublishRole"}
    for step in ("Fetch", "Validate", "Transform", "Catalog"):
        env = _functions(variant)[_bank_handlers()[step]]["Properties"]["Environment"]["Variables"]
        assert not {"GOOGLE_SHEETS_SECRET", "SHEETS_SPREADSHEET_ID"} & set(env), step


# -- the rest comes from the generic pipeline ---------------------------------------------------------


def test_bank_has_its_workflow_trigger_and_schedule(synthesized) -> None:
    machines = {
        m["Properties"]["StateMachineName"]
        for m in synthesized.resources(PIPELINES, "AWS::StepFunctions::StateMachine").values()
    }
    assert "finlake-bank" in machines
    prefixes = [
        r["Properties"]["EventPattern"]["detail"]["object"]["key"]
        for r in synthesized.resources(PIPELINES, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Object Created"]
    ]
    assert [{"prefix": "inbox/bank/"}] in prefixes
    (schedule,) = [
        x
        for x in synthesized.resources(PIPELINES, "AWS::Scheduler::Schedule").values()
        if x["Properties"]["Name"] == "finlake-bank"
    ]
    assert schedule["Properties"]["State"] == "DISABLED"  # Nubank refuses pynubank logins since 2024-10
    trigger = _functions(synthesized)[BANK.trigger.handler]  # type: ignore[union-attr]
    assert "STATE_MACHINE_ARN" in trigger["Properties"]["Environment"]["Variables"]
    # failures reach a person through the notifier, not per-domain alarms (test_failure_inventory.py)
    assert not synthesized.resources(PIPELINES, "AWS::CloudWatch::Alarm")
    assert "bank" in DOMAINS
