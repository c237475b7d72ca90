"""The layers of finlake's functions.

The AWS-managed ones, resolved for the region they deploy to, and the ones pip builds on the synthesizing machine
(stacks/bundling.py).

A function's layers, in Lambda's merge order (later layers unpack over earlier ones in /opt):

- the AWS SDK for pandas layer (domain steps and S3 triggers), then the Powertools layer (every
  function), both AWS-published. Their versions, per-region ARNs or SSM parameter, package lists
  and sizes are data in ``stacks/lambda_layers.json``, with sources and dates;
- the common layer (``functions/requirements.txt``: tzdata), one per stack;
- the domain's own layer (``DomainSpec.requirements``, e.g. the bank's pynubank and OFX parsing).

Layer versions are per-region counters, and the AWS SDK for pandas account differs between
regions (e.g. ap-east-1), so no ARN is a template with ``{region}``:

- AWS SDK for pandas: the documented per-region table. A stack with a concrete region gets that
  region's ARN (an unknown region fails the synth by name); an environment-agnostic stack gets a
  ``CfnMapping`` that CloudFormation reads with ``Fn::FindInMap`` on ``AWS::Region``.
- Powertools: its SSM public parameter for the pinned release, as a CloudFormation dynamic
  reference, resolved in the deploying region.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_cdk import (
    Aws,
    BundlingOptions,
    CfnDynamicReference,
    CfnDynamicReferenceService,
    CfnMapping,
    Stack,
    Token,
)
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.bundling import PipLayerBundler
from stacks.specs import FUNCTIONS_DIR

LAYERS_DATA = Path(__file__).with_name("lambda_layers.json")
RUNTIME = lambda_.Runtime.PYTHON_3_14
COMMON_REQUIREMENTS = FUNCTIONS_DIR / "requirements.txt"
COMMON_LAYER_ID = "FinlakeCommonLayer"


@dataclass(frozen=True)
class ManagedLayer:
    """One AWS-published layer as documented in ``stacks/lambda_layers.json``."""

    key: str  # "pandas" | "powertools"
    title: str
    version: str  # the library's release, e.g. "3.17.0"
    distribution: str  # its PyPI name, e.g. "awswrangler"
    arns: Mapping[str, str]  # region -> layer version ARN (empty when resolved through SSM)
    ssm_parameter: str  # SSM public parameter holding the ARN ("" when resolved from ``arns``)
    distributions: Mapping[str, str]  # normalized PyPI name -> version, what the layer unpacks
    unzipped_mb: float

    def arn_for(self, region: str) -> str:
        """The documented ARN in ``region``; ValueError when the layer is not published there."""
        if region not in self.arns:
            raise ValueError(
                f"{self.title} {self.version} has no documented layer in {region} (stacks/lambda_layers.json)"
            )
        return self.arns[region]


@cache
def layers_data() -> dict[str, Any]:
    """The parsed ``stacks/lambda_layers.json`` (managed layers and their ARNs per region), read once per process."""
    data: dict[str, Any] = json.loads(LAYERS_DATA.read_text())
    return data


def runtime_distributions() -> tuple[str, ...]:
    """What the Lambda Python runtime ships besides the standard library (boto3 and its dependencies)."""
    return tuple(layers_data()["runtime"]["distributions"])


def managed_layers() -> dict[str, ManagedLayer]:
    """The AWS-managed layers of ``stacks/lambda_layers.json``, keyed as in that file (e.g. ``awswrangler``)."""
    return {
        key: ManagedLayer(
            key=key,
            title=item["title"],
            version=item["version"],
            distribution=item["distribution"],
            arns=item.get("arns", {}),
            ssm_parameter=item.get("ssm_parameter", ""),
            distributions=item["distributions"],
            unzipped_mb=float(item["unzipped_mb"]),
        )
        for key, item in layers_data()["managed_layers"].items()
    }


def managed_layer_arn(scope: Construct, layer: ManagedLayer) -> str:
    """The ARN of ``layer`` in the region of ``scope``'s stack (a literal, a FindInMap or an SSM reference)."""
    if layer.ssm_parameter:
        return CfnDynamicReference(CfnDynamicReferenceService.SSM, layer.ssm_parameter).to_string()
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region):
        return layer.arn_for(stack.region)
    mapping_id = f"{layer.key.title()}LayerArns"
    mapping = stack.node.try_find_child(mapping_id)
    if not isinstance(mapping, CfnMapping):
        mapping = CfnMapping(stack, mapping_id, mapping={region: {"arn": arn} for region, arn in layer.arns.items()})
    return mapping.find_in_map(Aws.REGION, "arn")


def managed_layer(scope: Construct, key: str) -> lambda_.ILayerVersion:
    """The managed layer ``key`` ("pandas" or "powertools") as a layer version in ``scope``."""
    layer = managed_layers()[key]
    return lambda_.LayerVersion.from_layer_version_arn(scope, f"{key.title()}Layer", managed_layer_arn(scope, layer))


def pip_layer(scope: Construct, construct_id: str, requirements: Path, description: str) -> lambda_.LayerVersion:
    """``requirements`` (a complete, pinned closure) installed with ``pip --no-deps`` for the Lambda runtime.

    Installed on the synthesizing machine; Docker with the runtime's build image only if local bundling declines. The
    asset's hash depends on the requirements file only.
    """
    if not requirements.is_file():
        raise ValueError(f"requirements file {requirements} does not exist")
    code = lambda_.Code.from_asset(
        str(requirements.parent),
        exclude=["*", f"!{requirements.name}"],
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,
            local=PipLayerBundler(requirements),  # type: ignore[arg-type]  # jsii protocol, see bundling.py
            command=[
                "bash",
                "-c",
                f"pip install --no-cache-dir --no-deps -r {requirements.name} -t /asset-output/python",
            ],
        ),
    )
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=code,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[lambda_.Architecture.X86_64],
        description=description,
    )


def common_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's one common layer (``functions/requirements.txt``), created on first use."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(COMMON_LAYER_ID)
    if isinstance(existing, lambda_.LayerVersion):
        return existing
    return pip_layer(stack, COMMON_LAYER_ID, COMMON_REQUIREMENTS, "finlake: functions/requirements.txt (tzdata)")
