"""The embedded AWS wires its functions and Glue jobs through the contract (functions/common/contract.py),
as the CDK stack does (tests/infra/test_contract_wiring.py checks the stack's side)."""

from __future__ import annotations

from pathlib import Path

from finlake.local.runtime import LAKE, NAMES, embedded_aws
from finlake.local.workspace import Workspace
from functions.common.contract import function_environment, glue_job_arguments
from stacks.specs import BNDES, CARDS


def test_local_glue_jobs_get_the_contracts_default_arguments_with_their_domain(tmp_path: Path) -> None:
    with embedded_aws(Workspace.open(tmp_path)) as aws:
        aws.deploy(CARDS)
        glue = aws.client("glue")
        for job in CARDS.glue_jobs:
            found = glue.get_job(JobName=NAMES.glue_job("cards", job.step))["Job"]
            assert found["DefaultArguments"] == glue_job_arguments("cards", LAKE)
            assert found["DefaultArguments"]["--DOMAIN"] == "cards"
            assert found["DefaultArguments"]["--CURATED_BUCKET"] == "finlake-curated"


def test_local_functions_get_the_contracts_environment(tmp_path: Path) -> None:
    with embedded_aws(Workspace.open(tmp_path)) as aws:
        aws.deploy(BNDES)
        aws.deploy(CARDS)
        lam = aws.client("lambda")
        for spec in (BNDES, CARDS):
            for step in spec.lambdas:
                env = lam.get_function(FunctionName=NAMES.function(spec.name, step.step))["Configuration"]
                variables = env["Environment"]["Variables"]
                assert function_environment(NAMES, spec.name, LAKE).items() <= variables.items(), step
        trigger = lam.get_function(FunctionName=NAMES.function("cards", "Trigger"))["Configuration"]
        variables = trigger["Environment"]["Variables"]
        assert function_environment(NAMES, "cards", LAKE).items() <= variables.items()
        assert variables["STATE_MACHINE_ARN"].endswith(":finlake-cards")


def test_a_new_embedded_aws_forgets_the_secrets_an_earlier_one_served(tmp_path: Path) -> None:
    """Each workspace's embedded AWS has its own random bank_hmac. Powertools caches a secret for its max_age
    in the process, so without a reset a second embedded AWS (the next test, the next `finlake run`) would hash
    with the first one's key until the cache expired, and a rerun straddling that moment rewrote partitions."""
    from aws_lambda_powertools.utilities import parameters

    from stacks.specs import BANK

    name = NAMES.secret("bank", "bank_hmac")
    for n in (1, 2):
        with embedded_aws(Workspace.open(tmp_path / f"ws{n}")) as aws:
            aws.deploy(BANK)
            actual = aws.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
            assert parameters.get_secret(name, max_age=300) == actual
