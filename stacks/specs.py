"""Domain specs: the data that describes each domain's workflow.

A domain is one spec, one folder of handlers under ``functions/`` and one state-machine
definition under ``statemachines/``. The CDK ``DomainPipeline`` construct and the local runtime
(``finlake.local``) both read these specs, so this module must not import ``aws_cdk``.

Substitutions in a definition (``${Name}``), filled by CDK at deploy time and by the local
runtime on the embedded AWS:

- ``${<Step>Function}``: the ARN of the Lambda function of step ``<Step>`` (e.g. ``${FetchFunction}``).
- ``${<Step>Job}``: the name of the Glue job of step ``<Step>``.
- ``${NotificationTopic}``: the SNS topic ARN; ``${DeadLetterQueue}``: the SQS DLQ URL.
- ``${NotifyFunction}``: the ARN of the platform's notifier function (``finlake-notify``), which
  the ``NotifyFailure`` state invokes to send a readable failure email.
- ``${Region}``: the region, for console links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from functions.bank import tables as bank_tables
from functions.bndes import tables as bndes_tables
from functions.cards import tables as cards_tables
from functions.common.contract import DEFAULT_NAMES
from functions.common.tables import Table
from functions.stocks import tables as stocks_tables

ROOT = Path(__file__).resolve().parent.parent

# How much longer a workflow step waits than the work it starts may take (the deployed definitions
# are checked against these: tests/unit/test_definition_contract.py, tests/infra/test_contracts.py).
# A Lambda invocation: the function's timeout, plus its init phase (at most 10 s on demand) and the
# invoke round trip. A Glue run: its own timeout for each run it may wait behind in the job's queue
# (job run queuing, MaxConcurrentRuns) and for itself, plus start-up and the integration's polling.
LAMBDA_TASK_MARGIN_S = 30
GLUE_TASK_MARGIN_S = 300
GLUE_RUNS_AHEAD = 1  # a queued run waits behind at most one run of its job (backfills run one at a time)
STATEMACHINES_DIR = ROOT / "statemachines"
FUNCTIONS_DIR = ROOT / "functions"
GLUE_DIR = ROOT / "glue"


@dataclass(frozen=True)
class Access:
    """What one step may touch, per lake zone: "r" read, "w" put, "rw" read and put,
    "rwd" read, put and delete (rewriting partitions). No step may delete raw objects."""

    raw: str = ""
    curated: str = ""
    refined: str = ""
    catalog: bool = False  # Glue Data Catalog: tables and partitions of the lake databases
    athena: bool = False

    def __post_init__(self) -> None:
        for zone in ("raw", "curated", "refined"):
            if getattr(self, zone) not in {"", "r", "w", "rw", "rwd"}:
                raise ValueError(f"{zone} access must be '', r, w, rw or rwd")
        if "d" in self.raw:
            raise ValueError("raw objects are never deleted: no step gets delete on the raw zone")


@dataclass(frozen=True)
class LambdaStep:
    """A workflow step run by a Lambda function."""

    step: str  # state name in the definition, e.g. "Fetch"
    handler: str  # dotted path from the project root, e.g. "functions.bndes.handlers.fetch"
    access: Access = Access()
    memory_mb: int = 512
    timeout_s: int = 120
    description: str = ""
    secrets: tuple[str, ...] = ()  # keys of the domain's `secrets` this step may read

    @property
    def task_timeout_s(self) -> int:
        """The ``TimeoutSeconds`` of the step's Task state: the function's timeout plus the margin."""
        return self.timeout_s + LAMBDA_TASK_MARGIN_S


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret of a domain. Its name reaches the function as ``<KEY>_SECRET``
    (e.g. ``NUBANK_SECRET``); its value only through Secrets Manager, never the environment."""

    key: str  # e.g. "nubank"
    description: str
    generated: bool = False  # CDK generates the value (a random key); else the operator puts it
    optional_setting: str = ""  # the context setting that enables it (absent: always created)

    @property
    def env_var(self) -> str:
        """The environment variable that carries the secret's name, e.g. ``NUBANK_SECRET``."""
        return f"{self.key.upper()}_SECRET"


@dataclass(frozen=True)
class GlueStep:
    """A workflow step run by a Glue 5.0 PySpark job."""

    step: str  # state name in the definition, e.g. "Transform"
    script: str  # path from the project root, e.g. "glue/stocks_indicators.py"
    # The scripts read and write S3 paths; the Catalog step (a Lambda) registers the partitions.
    access: Access = Access(raw="r", curated="rwd", refined="rwd")
    workers: int = 2
    worker_type: str = "G.1X"
    timeout_min: int = 30
    description: str = ""
    max_concurrent_runs: int = 1  # runs of one job rewrite the same partitions: one at a time, the rest queue

    @property
    def task_timeout_s(self) -> int:
        """The ``TimeoutSeconds`` of the step's Task state: its queue wait and its own run, plus the margin."""
        return (GLUE_RUNS_AHEAD + 1) * self.timeout_min * 60 + GLUE_TASK_MARGIN_S


@dataclass(frozen=True)
class S3Trigger:
    """Start the workflow from files landing in the raw bucket: an EventBridge rule on "Object
    Created" under ``prefix`` invokes ``handler``, which decides whether (and as what) to start it."""

    handler: str  # e.g. "functions.cards.handlers.trigger"
    prefix: str  # raw-bucket key prefix, e.g. "inbox/cards/"
    memory_mb: int = 512
    timeout_s: int = 120


@dataclass(frozen=True)
class DomainSpec:
    """Everything that differs between two domains' pipelines."""

    name: str
    description: str
    partition: str  # "date" (YYYY-MM-DD) or "month" (YYYY-MM)
    schedule: str  # EventBridge Scheduler expression, evaluated in America/Sao_Paulo
    # The partition of a run given no date or month (a scheduled run, a bare `finlake run`): "day",
    # "month" or "previous_month" (functions.common.naming.PERIODS); empty: the day or the month.
    run_period: str = ""
    lambdas: tuple[LambdaStep, ...] = ()
    glue_jobs: tuple[GlueStep, ...] = ()
    timeout_min: int = 60  # state-machine timeout
    tables: tuple[Table, ...] = ()  # the Glue tables the domain's Catalog step registers (functions/<domain>/tables.py)
    reads_internet: bool = True  # whether Fetch calls public sources
    trigger: S3Trigger | None = None
    secrets: tuple[Secret, ...] = ()
    requirements: str = ""  # a requirements file beyond the managed layers, bundled as a layer
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def parallel_runs(self) -> int | None:
        """How many runs of the domain may go at once without queueing behind each other in Glue
        (the smallest ``max_concurrent_runs`` of its jobs); None when it has no Glue job."""
        return min((job.max_concurrent_runs for job in self.glue_jobs), default=None)

    @property
    def period(self) -> str:
        return self.run_period or ("day" if self.partition == "date" else "month")

    @property
    def definition_path(self) -> Path:
        return STATEMACHINES_DIR / f"{self.name}.asl.json"

    @property
    def table_names(self) -> tuple[str, ...]:
        """``<database>.<table>`` of each of the domain's tables, default deployment names."""
        return tuple(table.qualified(DEFAULT_NAMES.prefix) for table in self.tables)

    def secret_name(self, key: str) -> str:
        """The Secrets Manager name of the domain's secret ``key``, e.g. ``finlake/bank/nubank``."""
        return DEFAULT_NAMES.secret(self.name, key)

    def substitution_keys(self) -> list[str]:
        keys = [f"{s.step}Function" for s in self.lambdas]
        keys += [f"{g.step}Job" for g in self.glue_jobs]
        return [*keys, "NotifyFunction", "NotificationTopic", "DeadLetterQueue", "Region"]


BNDES = DomainSpec(
    name="bndes",
    description="BNDES balance sheets (BRGAAP, IFRS, Prudential Conglomerate) from the CKAN open-data API",
    partition="date",
    schedule="cron(0 7 ? * MON-FRI *)",
    lambdas=(
        LambdaStep(
            "Fetch",
            "functions.bndes.handlers.fetch",
            Access(raw="rw", curated="r"),
            512,
            300,
            "Download new or changed CKAN resources to the raw zone",
        ),
        LambdaStep(
            "Validate",
            "functions.bndes.handlers.validate",
            Access(raw="r", curated="rw"),
            1024,
            300,
            "Parse and validate raw CSVs; stage valid rows, quarantine bad rows",
        ),
        LambdaStep(
            "Transform",
            "functions.bndes.handlers.transform",
            Access(curated="rwd"),
            1024,
            300,
            "Merge validated rows into the curated partitions they touch",
        ),
        LambdaStep(
            "Catalog",
            "functions.bndes.handlers.catalog",
            Access(curated="rw", catalog=True),
            512,
            120,
            "Register table and partitions in the Glue Data Catalog",
        ),
    ),
    timeout_min=30,
    tables=bndes_tables.TABLES,
)

STOCKS = DomainSpec(
    name="stocks",
    description="B3 daily quotes (COTAHIST), the IBOV portfolio and BCB macro series into indicators",
    partition="date",
    schedule="cron(0 21 ? * MON-FRI *)",  # after B3 publishes the day's COTAHIST file
    lambdas=(
        LambdaStep(
            "Fetch",
            "functions.stocks.handlers.fetch",
            Access(raw="rw", curated="r"),
            1024,
            600,
            "Download the COTAHIST file, the IBOV portfolio and the BCB series (and FRED and Alpha Vantage "
            "when configured) to the raw zone",
            secrets=("fred", "alpha_vantage"),
        ),
        LambdaStep(
            "Validate",
            "functions.stocks.handlers.validate",
            Access(raw="r", curated="rw"),
            3008,
            900,
            "Parse COTAHIST, portfolio and series exactly; stage Parquet; quarantine bad records",
        ),
        LambdaStep(
            "Catalog",
            "functions.stocks.handlers.catalog",
            Access(curated="rw", refined="r", catalog=True),
            512,
            120,
            "Register tables and partitions; summarise the run",
        ),
    ),
    glue_jobs=(
        GlueStep(
            "Transform",
            "glue/stocks_transform.py",
            workers=2,
            timeout_min=45,
            description="Curated quotes, portfolio, series; refined indicators, sectors, risk, signals, correlations",
        ),
    ),
    timeout_min=150,  # above the longest path through the definition (tests/infra/test_contracts.py)
    tables=stocks_tables.TABLES,
    # Optional global sources, each created (and read by Fetch) only when cdk.json turns it on.
    secrets=(
        Secret("fred", 'FRED API key: JSON {"api_key": "<32 lower-case alphanumerics>"}', optional_setting="fred"),
        Secret("alpha_vantage", 'Alpha Vantage API key: JSON {"api_key": "<key>"}', optional_setting="alpha_vantage"),
    ),
)

CARDS = DomainSpec(
    name="cards",
    description="Monthly credit-card invoice and payment files into the 48-variable customer book",
    partition="month",
    schedule="cron(0 9 5 * ? *)",  # fallback: the 5th of each month reports a missing file
    run_period="previous_month",
    lambdas=(
        LambdaStep(
            "Fetch",
            "functions.cards.handlers.fetch",
            Access(raw="r", curated="rw"),  # rw: a file no month can take is copied to quarantine
            512,
            300,
            "Find the month's invoice and payment files in the raw inbox; report a file that fits no month",
        ),
        LambdaStep(
            "Catalog",
            "functions.cards.handlers.catalog",
            Access(curated="rw", refined="r", catalog=True),
            512,
            120,
            "Register curated and refined tables; reconcile and summarise",
        ),
    ),
    glue_jobs=(
        GlueStep(
            "Validate",
            "glue/cards_curate.py",
            workers=2,
            timeout_min=45,
            description="Schema checks, dedup, quarantine and reconciliation into curated invoices and payments",
        ),
        GlueStep(
            "Transform",
            "glue/cards_book.py",
            workers=4,
            timeout_min=45,
            description="The 48-variable customer book per reference month",
        ),
    ),
    timeout_min=240,
    tables=cards_tables.TABLES,
    reads_internet=False,
    trigger=S3Trigger("functions.cards.handlers.trigger", "inbox/cards/"),
)

BANK = DomainSpec(
    name="bank",
    description="A person's Nubank card and NuConta (pynubank and the app's exports), categorised and summarised",
    partition="month",
    schedule="cron(0 8 * * ? *)",  # the daily API fetch; off by default (Nubank refuses pynubank since 2024-10)
    lambdas=(
        LambdaStep(
            "Fetch",
            "functions.bank.handlers.fetch",
            Access(raw="rw", curated="r"),
            512,
            300,
            "Snapshot the Nubank API (pynubank) or list the dropped exports into the raw zone",
            secrets=("nubank",),
        ),
        LambdaStep(
            "Validate",
            "functions.bank.handlers.validate",
            Access(raw="r", curated="rw"),
            1024,
            300,
            "Parse exports and API snapshots exactly; scrub personal data; quarantine bad rows",
            secrets=("bank_hmac",),
        ),
        LambdaStep(
            "Transform",
            "functions.bank.handlers.transform",
            Access(raw="r", curated="rwd", refined="rwd"),
            1024,
            300,
            "Deduplicate and categorise into transactions; monthly summary and future installments",
        ),
        LambdaStep(
            "Catalog",
            "functions.bank.handlers.catalog",
            Access(curated="rw", refined="r", catalog=True),
            512,
            120,
            "Register tables and partitions; the month's headline numbers",
        ),
        LambdaStep(
            "Publish",
            "functions.bank.handlers.publish",
            Access(refined="r"),
            512,
            120,
            "Push the monthly summary to a Google Sheet when the sink is enabled",
            secrets=("google_sheets",),
        ),
    ),
    timeout_min=40,
    tables=bank_tables.TABLES,
    trigger=S3Trigger("functions.bank.handlers.trigger", "inbox/bank/"),
    secrets=(
        Secret("nubank", "Nubank login for pynubank: JSON {cpf, password, certificate_p12_base64}"),
        Secret("bank_hmac", "Key of the keyed hashes (HMAC-SHA256) that replace account identifiers", generated=True),
        Secret(
            "google_sheets",
            "Google service-account JSON for the monthly-summary sheet",
            optional_setting="google_sheets",
        ),
    ),
    requirements="functions/bank/requirements.txt",
)

DOMAINS: dict[str, DomainSpec] = {spec.name: spec for spec in (BNDES, STOCKS, CARDS, BANK)}
