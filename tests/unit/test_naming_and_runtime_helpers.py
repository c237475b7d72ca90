from __future__ import annotations

import json
from pathlib import Path

import pytest

from finlake.local.runtime import render_definition
from finlake.naming import RunRequest, execution_name
from functions.common.manifest import Counts, Manifest, Source
from stacks.specs import BNDES


def test_execution_name_is_deterministic_per_domain_partition_and_input():
    request = RunRequest(domain="bndes", date="2026-11-22").to_input()
    name = execution_name("bndes", "2026-11-22", request)
    assert name.startswith("bndes-2026-11-22-") and len(name) == len("bndes-2026-11-22-") + 8
    assert execution_name("bndes", "2026-11-22", dict(request)) == name
    assert execution_name("bndes", "2026-11-22", {**request, "trigger": "schedule"}) == name
    assert execution_name("bndes", "2026-11-22", {**request, "force": True}) != name


def test_execution_name_keeps_to_step_functions_characters():
    name = execution_name("cards", "2024/09 x", {"domain": "cards"})
    assert name.startswith("cards-2024-09-x-")


def test_render_definition_fills_every_substitution():
    values = {key: f"value-{key}" for key in BNDES.substitution_keys()}
    definition = json.loads(render_definition(BNDES.definition_path, values))
    assert definition["States"]["Fetch"]["Parameters"]["FunctionName"] == "value-FetchFunction"


def test_render_definition_names_missing_substitutions(tmp_path: Path):
    with pytest.raises(ValueError, match="NotificationTopic"):
        render_definition(BNDES.definition_path, {"FetchFunction": "x"})


def test_manifest_round_trips_through_json():
    manifest = Manifest(
        run_id="bndes-2026-11-22-abc",
        domain="bndes",
        partition={"dt": "2026-11-22"},
        new_data=True,
        sources=[Source(uri="s3://b/k", name="n", resource_id="r", md5="m")],
        counts=Counts(rows_in=3),
    )
    data = json.loads(json.dumps(manifest.to_dict()))
    assert data["partition_label"] == "2026-11-22"
    assert Manifest.from_dict(data) == manifest
