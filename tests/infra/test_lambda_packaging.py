"""Every deployed function can import its handler with only what is deployed with it, and fits.

The environments are rebuilt from the synthesized templates and staged assets (tests/infra/lambda_env.py
says what is modelled and what is not). Local runs cannot catch a missing package: .venv holds
everything. The bank S3 trigger was deployed without the bank layer while its module imports
``functions.bank.pipeline`` -> ofxtools: every upload would have failed at init
(``Runtime.ImportModuleError``) and gone to the dead-letter queue.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from functions.common.contract import NOTIFIER_HANDLER
from stacks.layers import managed_layers
from stacks.specs import DOMAINS, ROOT
from tests.infra.lambda_env import (
    LAMBDA_LIMIT_BYTES,
    MB,
    FunctionEnv,
    canonical,
    function_envs,
    import_handler,
    installed,
    materialize,
    runtime,
    unmet_requirements,
)

pytestmark = pytest.mark.slow

# Headroom below Lambda's limit, with the AWS SDK for pandas layer at the largest size reported for
# it (204 MiB, 3.16.1; 3.17.0 is expected near 169 MiB): room for the bank and common layers to grow.
SIZE_MARGIN_BYTES = 10 * 1024 * 1024
# pynubank 2.25.0's exact pins, deliberately not honoured (requirements-nodeps.txt): newer requests,
# requests-pkcs12, qrcode and Deprecated at fixed versions; pyOpenSSL and colorama serve only its CLI
# (certificate generation, terminal colours), which no function imports.
OVERRIDES = {"pynubank": {"requests", "requests-pkcs12", "qrcode", "deprecated", "pyopenssl", "colorama"}}
# The managed-layer packages finlake's code or tests depend on: .venv must run the layers' versions.
PINNED_TO_LAYERS = {
    "pandas": ("awswrangler", "pyarrow", "requests", "charset-normalizer"),
    "powertools": ("aws-lambda-powertools", "cryptography", "wrapt"),
}


@pytest.fixture(scope="session")
def envs(synthesized) -> list[FunctionEnv]:
    out: list[FunctionEnv] = []
    for stack, template in synthesized.templates.items():
        out += function_envs(synthesized.outdir, stack, template)
    return out


@pytest.fixture(scope="session")
def opt_dirs(envs: list[FunctionEnv], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Path]:
    """One merged /opt/python per distinct list of layers."""
    dirs: dict[tuple[str, ...], Path] = {}
    for env in envs:
        key = tuple(layer.name for layer in env.layers)
        if key not in dirs:
            dirs[key] = materialize(env.layers, tmp_path_factory.mktemp("lambda-env"))
    return dirs


def test_every_function_is_modelled(envs: list[FunctionEnv]) -> None:
    handlers = Counter(env.handler for env in envs)
    assert handlers["functions.common.schedule.handler"] == len(DOMAINS)  # each domain's ScheduleStart
    triggers = {spec.trigger.handler for spec in DOMAINS.values() if spec.trigger}
    assert triggers and triggers | {NOTIFIER_HANDLER} <= set(handlers)
    # each step's function, each S3 trigger and each ScheduleStart; the notifier; CDK's bucket-notifications handler
    in_pipelines = sum(len(spec.lambdas) + (spec.trigger is not None) + 1 for spec in DOMAINS.values())
    assert len(envs) == in_pipelines + 2, sorted(handlers)


def test_every_function_imports_its_handler_with_only_what_is_deployed_with_it(
    envs: list[FunctionEnv], opt_dirs: dict[tuple[str, ...], Path]
) -> None:
    """A fresh interpreter (``python -I -S``) whose path is the function's code asset and its layers
    merged as Lambda merges them imports the handler, and ZoneInfo("America/Sao_Paulo") works
    without a system time-zone database (the Lambda runtime does not document one; tzdata comes
    from the common layer). Source: Lambda Developer Guide, "Managing Lambda dependencies with
    layers" (layer paths, merge order) and "Building Lambda functions with Python" (/var/task)."""

    def run(env: FunctionEnv) -> str | None:
        result = import_handler(env, opt_dirs[tuple(layer.name for layer in env.layers)])
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            layers = ", ".join(layer.name for layer in env.layers)
            return f"{env.logical_id} ({env.handler}; layers {layers}): {last}"
        if json.loads(result.stdout.strip().splitlines()[-1])["outside"]:
            return f"{env.logical_id} imported from outside its environment: {result.stdout}"
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(run, envs) if f]
    assert not failures, "\n".join(failures)


def test_no_package_is_unpacked_twice_into_a_function(envs: list[FunctionEnv]) -> None:
    """Layers unpack into one /opt in order, a later one overwriting the same paths of an earlier
    one: two versions of one package would leave a mix of both (e.g. cryptography 41 over the
    Powertools layer's 50). finlake's own layers ship nothing the runtime or another layer ships;
    the two AWS-managed layers share a few small packages (typing-extensions, attrs, jsonpath-ng),
    which must then be documented at one version. (A layer may shadow the runtime's boto3 closure:
    the runtime's packages live outside /opt, so nothing is mixed; the AWS SDK for pandas layer
    ships its own jmespath, python-dateutil and six.)"""
    managed = set(managed_layers())
    for env in envs:
        seen: dict[str, tuple[str, str]] = {name: ("runtime", v) for name, v in runtime().distributions.items()}
        for layer in env.layers:
            for name, version in layer.distributions.items():
                if name in seen:
                    where, other = seen[name]
                    ours = layer.name not in managed or where not in managed | {"runtime"}
                    assert not ours, f"{env.logical_id}: {name} in both {where} and {layer.name}"
                    assert where == "runtime" or other == version, (
                        f"{env.logical_id}: {name} {other} ({where}) and {version} ({layer.name})"
                    )
                seen[name] = (layer.name, version)


def test_each_function_environment_satisfies_its_packages_requirements(envs: list[FunctionEnv]) -> None:
    """``pip check`` over each function's runtime + layers (markers for python3.14 on Linux):
    a bundled layer installed with --no-deps must not rely on a package nobody ships, nor on a
    version the managed layers do not have."""
    problems = sorted({p for env in envs for p in unmet_requirements(env, OVERRIDES)})
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", PINNED_TO_LAYERS)
def test_venv_runs_the_versions_the_managed_layers_ship(key: str) -> None:
    """The tests run the library versions the functions get on AWS: the documented layer release
    (stacks/lambda_layers.json) is what requirements.txt pins and .venv holds."""
    layer = managed_layers()[key]
    pins = {
        canonical(line.split("==")[0].split("[")[0]): line.split("==")[1].split()[0]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for name in PINNED_TO_LAYERS[key]:
        documented = {canonical(n): v for n, v in layer.distributions.items()}[canonical(name)]
        dist = installed(name)
        assert dist is not None and dist.version == documented, (
            f"{name}: layer {documented}, .venv {dist and dist.version}"
        )
        assert pins[canonical(name)] == documented, f"requirements.txt pins {name}=={pins[canonical(name)]}"
    assert layer.distributions[layer.distribution] == layer.version


def test_every_function_fits_lambdas_unzipped_limit_with_a_margin(envs: list[FunctionEnv]) -> None:
    """Function code plus all its layers must unzip to under 262,144,000 bytes (Lambda quotas:
    "250 MB, the maximum size of the contents of a deployment package, including layers"). Code
    assets are measured as staged, bundled layers as built (or as their pinned distributions in
    .venv), managed layers at their documented size (stacks/lambda_layers.json)."""
    rows = []
    for env in sorted(envs, key=lambda e: -e.size_bytes()):
        parts = ", ".join(f"{layer.name} {layer.size_bytes() / MB:.1f}" for layer in env.layers)
        rows.append(f"{env.logical_id}: {env.size_bytes() / MB:.1f} MB (code {env.code_bytes() / MB:.2f}; {parts})")
    print("\n".join(rows))
    over = [env for env in envs if env.size_bytes() > LAMBDA_LIMIT_BYTES - SIZE_MARGIN_BYTES]
    assert not over, "\n".join(rows)


def test_the_import_check_fails_a_function_without_a_layer_its_handler_needs(
    envs: list[FunctionEnv], tmp_path: Path
) -> None:
    """What the check exists for, with .venv's bytecode caches linked in: the bank S3 trigger deployed
    without the bank layer (ofxtools, pynubank) fails at import, as it did on AWS."""
    trigger = next(env for env in envs if env.handler == DOMAINS["bank"].trigger.handler)  # type: ignore[union-attr]
    without = [layer for layer in trigger.layers if "bank" not in layer.name.lower()]
    assert 0 < len(without) < len(trigger.layers), [layer.name for layer in trigger.layers]
    result = import_handler(trigger, materialize(without, tmp_path))
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr, result.stderr[-2000:]
