"""The deployment's fixed names come from one prefix (functions/common/contract.py)."""

from __future__ import annotations

import pytest

from functions.common.contract import DEFAULT_NAMES, Names
from stacks.settings import Settings
from stacks.specs import BANK

# The longest commercial region names have 14 characters (e.g. ap-southeast-2, ap-northeast-1).
LONGEST_REGION = "ap-southeast-2"


def test_the_default_prefix_gives_the_names_the_platform_always_had() -> None:
    names = DEFAULT_NAMES
    assert names.stack("Platform") == "FinlakePlatform" and names.stack("Pipelines") == "FinlakePipelines"
    assert names.bucket("raw", "123456789012", "sa-east-1") == "finlake-raw-123456789012-sa-east-1"
    assert names.key_alias == "alias/finlake"
    assert (names.database("curated"), names.database("refined")) == ("finlake_curated", "finlake_refined")
    assert names.workgroup == names.glue_security_configuration == "finlake"
    assert names.notifier == "finlake-notify"
    assert names.state_machine("bank") == "finlake-bank"
    assert names.glue_job("stocks", "Transform") == "finlake-stocks-transform"
    assert names.schedule("cards") == "finlake-cards"
    assert names.secret("bank", "nubank") == BANK.secret_name("nubank") == "finlake/bank/nubank"
    assert names.budget("us-east-1") == "finlake-monthly-us-east-1"


@pytest.mark.parametrize("prefix", ["", "f", "Finlake", "fin-lake", "fin_lake", "9lake", "a" * 21, "finlake "])
def test_a_prefix_that_cannot_name_every_resource_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        Settings.from_context({"prefix": prefix})


def test_the_longest_prefix_still_names_a_bucket_in_the_longest_region() -> None:
    names = Names("a" * 20)
    longest = max(
        (names.bucket(zone, "123456789012", LONGEST_REGION) for zone in ("access-logs", "athena-results")), key=len
    )
    assert len(longest) <= 63  # S3 bucket names: 3 to 63 characters
    assert len(names.notifier) <= 64 and len(names.state_machine("stocks")) <= 80


def test_settings_carry_the_prefix() -> None:
    assert Settings.from_context({}).names == DEFAULT_NAMES
    assert (
        Settings.from_context({"prefix": "finlakesmoke1a2b3c"}).names.stack("Platform") == "Finlakesmoke1a2b3cPlatform"
    )
