"""The stack wires its functions and Glue jobs through the contract (functions/common/contract.py), as the
embedded AWS does (tests/unit/test_contract_local.py): same variables and arguments, same literal values."""

from __future__ import annotations

import pytest

from functions.common.contract import DEFAULT_NAMES, function_environment, glue_job_arguments
from stacks.specs import DOMAINS

pytestmark = pytest.mark.slow

PIPELINES = "FinlakePipelines"
BUCKET = "<bucket token>"
LAKE = DEFAULT_NAMES.lake({"raw": BUCKET, "curated": BUCKET, "refined": BUCKET})


def _literal(value: object) -> object:
    """A template value as the contract would give it: CDK tokens (the bucket names) become ``BUCKET``."""
    return value if isinstance(value, str) else BUCKET


def test_glue_jobs_get_the_contracts_default_arguments(synthesized) -> None:
    jobs = {j["Properties"]["Name"]: j for j in synthesized.resources(PIPELINES, "AWS::Glue::Job").values()}
    checked = 0
    for spec in DOMAINS.values():
        for job in spec.glue_jobs:
            arguments = jobs[DEFAULT_NAMES.glue_job(spec.name, job.step)]["Properties"]["DefaultArguments"]
            assert {k: _literal(v) for k, v in arguments.items()} == glue_job_arguments(spec.name, LAKE, BUCKET)
            assert arguments["--DOMAIN"] == spec.name
            checked += 1
    assert checked == sum(len(s.glue_jobs) for s in DOMAINS.values()) > 0


def test_step_functions_and_triggers_get_the_contracts_environment(synthesized) -> None:
    functions = {
        f["Properties"]["Handler"]: f["Properties"]["Environment"]["Variables"]
        for f in synthesized.resources(PIPELINES, "AWS::Lambda::Function").values()
    }
    for spec in DOMAINS.values():
        expected = function_environment(DEFAULT_NAMES, spec.name, LAKE)
        handlers = [step.handler for step in spec.lambdas] + ([spec.trigger.handler] if spec.trigger else [])
        for handler in handlers:
            variables = {k: _literal(v) for k, v in functions[handler].items()}
            assert expected.items() <= variables.items(), handler
