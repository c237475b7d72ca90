"""Each deployed function's Python environment, rebuilt offline from the synthesized app.

What Lambda gives a function at init (Lambda Developer Guide, "Working with layers" and "Lambda
runtimes"): its code package in /var/task, the content of its layers unpacked into /opt in the
order listed (a later layer overwrites the files of an earlier one), /opt/python on ``sys.path``,
and the runtime's own packages (boto3 and its dependencies). Nothing else: no .venv.

How each part is modelled here, and what that does not model:

- the code asset: the asset directory CDK staged for the function, as deployed;
- the AWS-managed layers: the package lists in ``stacks/lambda_layers.json`` (from each project's
  documented build: sources and dates there). The files come from the distributions of those names
  installed in .venv; a listed package .venv does not have (redshift-connector...) is absent here,
  so importing it would fail here although it would work on AWS (never the other way round);
- a bundled layer (``pip_layer``) "as built": when the asset holds the built ``python/`` folder
  (a synthesis with bundling), that folder; when tests synthesize without bundling, the pinned
  requirements file the bundler installs with ``pip --no-deps``: exactly those distributions, taken
  from .venv at the pinned versions (a version .venv does not have is an error, not a guess). Not
  modelled: wheels for CPython 3.14 manylinux instead of .venv's 3.11 ones (same files, other
  binaries), and the bundler's pruning of tests and docs;
- the runtime: boto3 and its dependencies from .venv; the standard library of the interpreter that
  runs the tests (3.11, not 3.14), and no system time-zone database (``zoneinfo.reset_tzpath([])``).
  The modules a loaded project module imports inside a function (at call time: the notifier's
  ``functions.common.naming``, ``charset_normalizer`` in ``functions.common.text``) are imported too.

The import runs in ``python -I -S -B`` (no site-packages, no environment, no current directory, no
``__pycache__`` written into the staged assets) with an explicit ``sys.path``: the code asset, then
the merged /opt/python.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from stacks.layers import ManagedLayer, managed_layers, runtime_distributions

# The interpreter of Lambda's python3.14 runtime, for environment markers.
LAMBDA_MARKERS = {
    "python_version": "3.14",
    "python_full_version": "3.14.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
LAMBDA_LIMIT_BYTES = 262_144_000  # "Layers consume more than the available size of 262144000 bytes"
MB = 1024 * 1024


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def installed(name: str) -> metadata.Distribution | None:
    """The distribution ``name`` in .venv, or None (cached: .venv does not change during a session)."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def dist_files(dist: metadata.Distribution) -> tuple[tuple[str, Path], ...]:
    """(path relative to site-packages, absolute path) of each file a distribution installed there.

    The paths of RECORD are normalised against site-packages resolved once, not resolved file by file
    (``Path.resolve`` stats every component: it was half of tests/infra/test_lambda_packaging.py).
    """
    base = Path(str(dist.locate_file(""))).resolve()
    out = []
    for item in dist.files or []:
        absolute = Path(os.path.normpath(base / item))
        try:
            relative = absolute.relative_to(base)
        except ValueError:
            continue  # console scripts in bin/, outside site-packages: not importable
        if "__pycache__" not in relative.parts and absolute.is_file():
            out.append((str(relative), absolute))
    return tuple(out)


@functools.cache
def dist_bytes(dist: metadata.Distribution) -> int:
    """The bytes of a distribution's files under site-packages (:func:`dist_files`)."""
    return sum(path.stat().st_size for _, path in dist_files(dist))


@dataclass
class Layer:
    """One layer of a function: a name and the distributions (name -> version) it unpacks."""

    name: str
    distributions: dict[str, str]
    built_dir: Path | None = None  # a bundled layer's python/ folder, when the synthesis bundled it
    unzipped_mb: float | None = None  # documented size of a managed layer
    missing_in_venv: list[str] = field(default_factory=list)

    def files(self) -> Iterable[tuple[str, Path]]:
        if self.built_dir is not None:
            for path in self.built_dir.rglob("*"):
                if path.is_file():
                    yield str(path.relative_to(self.built_dir)), path
            return
        for name in self.distributions:
            dist = installed(name)
            if dist is not None:
                yield from dist_files(dist)

    def size_bytes(self) -> int:
        if self.unzipped_mb is not None:
            return int(self.unzipped_mb * MB)
        if self.built_dir is not None:
            return sum(path.stat().st_size for _, path in self.files())
        return sum(dist_bytes(dist) for dist in map(installed, self.distributions) if dist is not None)


def requirements_layer(name: str, requirements: Path) -> Layer:
    """A pip layer as the bundler builds it: the pinned lines of ``requirements``, ``--no-deps``."""
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = list(requirement.specifier)
        if spec.operator != "==":
            raise ValueError(f"{requirements}: {line!r} is not pinned with ==")
        pins[canonical(requirement.name)] = spec.version
    for dist_name, version in pins.items():
        dist = installed(dist_name)
        if dist is None or dist.version != version:
            have = dist.version if dist else "nothing"
            raise AssertionError(f"{requirements} pins {dist_name}=={version}; .venv has {have} (make venv)")
    return Layer(name, pins)


def managed(layer: ManagedLayer) -> Layer:
    names = {canonical(n): v for n, v in layer.distributions.items()}
    return Layer(
        layer.key,
        names,
        unzipped_mb=layer.unzipped_mb,
        missing_in_venv=sorted(n for n in names if installed(n) is None),
    )


def runtime() -> Layer:
    names = {canonical(n): (installed(n).version if installed(n) else "") for n in runtime_distributions()}  # type: ignore[union-attr]
    return Layer("runtime", names)


@dataclass
class FunctionEnv:
    """A deployed function: its handler, code asset, layers in order, environment variables."""

    logical_id: str
    handler: str
    code_dir: Path
    layers: list[Layer]
    environment: dict[str, str]

    def distributions(self) -> dict[str, tuple[str, str]]:
        """name -> (version, where) over the runtime and the layers; later layers win, as in /opt."""
        out: dict[str, tuple[str, str]] = {}
        for layer in [runtime(), *self.layers]:
            for name, version in layer.distributions.items():
                out[name] = (version, layer.name)
        return out

    def code_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.code_dir.rglob("*") if p.is_file())

    def size_bytes(self) -> int:
        return self.code_bytes() + sum(layer.size_bytes() for layer in self.layers)


def _asset_dirs(outdir: Path, stack: str) -> dict[str, Path]:
    """Asset hash -> staged directory (relative paths are under the cloud assembly)."""
    assets = json.loads((outdir / f"{stack}.assets.json").read_text())
    dirs = {}
    for asset_hash, item in assets["files"].items():
        path = Path(item["source"]["path"])
        dirs[asset_hash] = path if path.is_absolute() else outdir / path
    return dirs


def _asset_of(prop: Mapping[str, Any], dirs: Mapping[str, Path]) -> Path:
    return dirs[str(prop["S3Key"]).removesuffix(".zip")]


def _layer(item: Any, resources: Mapping[str, Any], dirs: Mapping[str, Path]) -> Layer:
    """The layer an entry of a function's ``Layers`` names: a managed layer (literal ARN, FindInMap
    or SSM reference) or a LayerVersion of this template."""
    text = json.dumps(item)
    for layer in managed_layers().values():
        by_arn = layer.arns and any(arn in text for arn in layer.arns.values())
        by_map = f"{layer.key.title()}LayerArns" in text
        by_ssm = layer.ssm_parameter and layer.ssm_parameter in text
        if by_arn or by_map or by_ssm:
            return managed(layer)
    if isinstance(item, dict) and "Ref" in item:
        resource = resources[item["Ref"]]
        asset = _asset_of(resource["Properties"]["Content"], dirs)
        if (asset / "python").is_dir():
            built = Layer(item["Ref"], {}, built_dir=asset / "python")
            built.distributions = {
                canonical(p.name.split("-")[0]): p.name.split("-")[1].removesuffix(".dist-info")
                for p in (asset / "python").glob("*.dist-info")
            }
            return built
        return requirements_layer(item["Ref"], asset / "requirements.txt")
    raise AssertionError(f"unknown layer {text}")


def _placeholders(value: Any) -> str:
    return value if isinstance(value, str) else "resolved-at-deploy"


def function_envs(outdir: Path, stack: str, template: Mapping[str, Any]) -> list[FunctionEnv]:
    """Every ``AWS::Lambda::Function`` of ``template`` (synthesized into ``outdir``) as a FunctionEnv."""
    dirs = _asset_dirs(outdir, stack)
    resources = template["Resources"]
    envs = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        variables = props.get("Environment", {}).get("Variables", {})
        if "ZipFile" in props["Code"]:  # inline code (CDK's own bucket-notifications handler): index.py
            code_dir = outdir / f"inline-{logical_id}"
            code_dir.mkdir(exist_ok=True)
            (code_dir / "index.py").write_text(props["Code"]["ZipFile"])
        else:
            code_dir = _asset_of(props["Code"], dirs)
        envs.append(
            FunctionEnv(
                logical_id=logical_id,
                handler=props["Handler"],
                code_dir=code_dir,
                layers=[_layer(item, resources, dirs) for item in props.get("Layers", [])],
                environment={k: _placeholders(v) for k, v in variables.items()},
            )
        )
    return envs


def materialize(layers: list[Layer], root: Path) -> Path:
    """/opt/python under the empty folder ``root`` for ``layers``: each file linked in layer order, a later layer
    replacing an earlier one's.

    A module's bytecode cache from .venv (``__pycache__/<name>.cpython-3XX.pyc`` beside its source) is linked
    beside the linked source, so the import checks do not compile every module again: Python uses it only for
    that source (it checks the source's size and time), never for a module whose source is not linked.
    """
    opt = root / "opt" / "python"
    linked: set[Path] = set()  # the links made so far: a later layer's file replaces one of these
    folders: set[Path] = set()

    def link(source: Path, target: Path) -> None:
        if target in linked:
            target.unlink()
        elif target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        target.symlink_to(source)
        linked.add(target)

    for layer in [runtime(), *layers]:  # the runtime's packages sit behind the layers on sys.path
        for relative, source in layer.files():
            target = opt / relative
            link(source, target)
            if source.suffix != ".py":
                continue
            name = f"__pycache__/{source.stem}.{sys.implementation.cache_tag}.pyc"
            if (source.parent / name).is_file():
                link(source.parent / name, target.parent / name)
            elif target.parent / name in linked:  # an earlier layer's, for the source replaced
                (target.parent / name).unlink()
                linked.discard(target.parent / name)
    return opt


BOOT = """
import ast, importlib, json, sys, zoneinfo
zoneinfo.reset_tzpath(to=[])  # no system time-zone database: only what the function ships
task, opt, handler = sys.argv[1:4]
sys.path[:0] = [task, opt]
module, _, name = handler.rpartition(".")
loaded = importlib.import_module(module)
if not callable(getattr(loaded, name, None)):
    raise SystemExit(f"{module} has no callable {name}")
def ours():
    return [m.__file__ for m in list(sys.modules.values()) if (getattr(m, "__file__", None) or "").startswith(task)]
def call_time_imports(path):
    # modules imported inside a function body (run when it is called), e.g. charset_normalizer in
    # functions.common.text or awswrangler in functions.common.catalog; module-level ones already ran
    found = set()
    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if in_function and isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif in_function and isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.add(child.module)
            visit(child, inner)
    visit(ast.parse(open(path, encoding="utf-8").read()), False)
    return found
# Every module a loaded project module imports at call time must import too (the project's own and
# third-party ones), until no new project module is loaded.
done = set()
while True:
    named = {n for f in ours() if f.endswith(".py") for n in call_time_imports(f)}
    if not named - done:
        break
    for lazy in sorted(named - done):
        importlib.import_module(lazy)
    done |= named
sources = ours()
if any("ZoneInfo(" in open(f, encoding="utf-8").read() for f in sources if f.endswith(".py")):
    zoneinfo.ZoneInfo("America/Sao_Paulo")  # code that names a zone must find it in what it ships
outside = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
                  and ".venv" in m.__file__ and not m.__file__.startswith((task, opt))})
print(json.dumps({"outside": outside}))
"""


def import_handler(env: FunctionEnv, opt: Path) -> subprocess.CompletedProcess[str]:
    """Import ``env.handler`` in a fresh ``python -I -S`` that sees only the code asset and ``opt``."""
    lambda_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": env.logical_id,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
        "LAMBDA_TASK_ROOT": str(env.code_dir),
        **env.environment,
    }
    python = shutil.which("python3", path=str(Path(sys.executable).parent)) or sys.executable
    return subprocess.run(
        [python, "-I", "-S", "-B", "-c", BOOT, str(env.code_dir), str(opt), env.handler],
        capture_output=True,
        text=True,
        env=lambda_env,
        cwd=str(opt.parent),
        timeout=180,
        check=False,
    )


def unmet_requirements(env: FunctionEnv, overrides: Mapping[str, set[str]]) -> list[str]:
    """Like ``pip check`` over the function's environment: each Requires-Dist (markers for Lambda's
    python3.14 on Linux x86_64) of each distribution present must be present at a matching version.
    ``overrides``: distribution -> requirements deliberately not honoured (pynubank's exact pins)."""
    present = env.distributions()
    problems = []
    for name, (_version, where) in present.items():
        dist = installed(name)
        if dist is None:
            continue  # listed in a managed layer's data but not in .venv: its metadata is not here
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not Marker(str(requirement.marker)).evaluate(LAMBDA_MARKERS):
                continue
            dep = canonical(requirement.name)
            if dep in overrides.get(name, set()):
                continue
            have = present.get(dep)
            if have is None:
                problems.append(f"{name} ({where}) needs {requirement}: absent")
            elif have[0] and not SpecifierSet(str(requirement.specifier)).contains(have[0], prereleases=True):
                problems.append(f"{name} ({where}) needs {requirement}: {have[1]} has {dep} {have[0]}")
    return problems
