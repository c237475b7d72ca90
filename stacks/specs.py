"""Domain specs: the data that describes each domain's workflow.

A domain is one spec and one folder of handlers under ``functions/``; its state-machine definition
under ``statemachines/`` is rendered from the spec by ``stacks/asl.py`` (``make asl``) and committed.
The CDK ``DomainPipeline`` construct and the local runtime (``finlake.local``) both read these
specs, so this module must not import ``aws_cdk``.

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

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

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
LAMBDA_DESCRIPTION_MAX = 256  # Lambda's limit on a function's Description; the step's Comment too
# A domain's name: no hyphen (the notifier reads the domain back from a Glue job's <prefix>-<domain>-<step>),
# no underscore (the stack's output key <Name>StateMachineArn must be alphanumeric).
DOMAIN_NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*")


@dataclass(frozen=True)
class Access:
    """What one step may touch, per lake zone.

    "r" read, "w" put, "rw" read and put, "rwd" read, put and delete (rewriting partitions). No step may delete raw
    objects.
    """

    raw: str = ""
    curated: str = ""
    refined: str = ""
    catalog: bool = False  # Glue Data Catalog: tables and partitions of the lake databases
    athena: bool = False

    def __post_init__(self) -> None:
        """Refuse an access other than '', r, w, rw or rwd, and delete on the raw zone (ValueError)."""
        for zone in ("raw", "curated", "refined"):
            if getattr(self, zone) not in {"", "r", "w", "rw", "rwd"}:
                raise ValueError(f"{zone} access must be '', r, w, rw or rwd")
        if "d" in self.raw:
            raise ValueError("raw objects are never deleted: no step gets delete on the raw zone")


@dataclass(frozen=True, kw_only=True)
class LambdaStep:
    """A workflow step run by a Lambda function.

    A ``lambda:invoke`` Task whose output (the function's return value, a manifest dict) is the next step's input.

    ``description`` is the Task's Comment in the definition and the function's Description
    (at most 256 characters); ``timeout_s`` and ``memory_mb`` are the function's (seconds, MB).
    """

    step: str  # state name in the definition, e.g. "Fetch"
    handler: str  # dotted path from the project root, e.g. "functions.bndes.handlers.fetch"
    access: Access = Access()
    memory_mb: int = 512
    timeout_s: int = 120
    description: str = ""
    secrets: tuple[str, ...] = ()  # keys of the domain's `secrets` this step may read

    def __post_init__(self) -> None:
        """Refuse a description longer than Lambda's limit (ValueError)."""
        if len(self.description) > LAMBDA_DESCRIPTION_MAX:
            raise ValueError(f"{self.step}: description over {LAMBDA_DESCRIPTION_MAX} characters (Lambda's limit)")

    @property
    def task_timeout_s(self) -> int:
        """The ``TimeoutSeconds`` of the step's Task state: the function's timeout plus the margin."""
        return self.timeout_s + LAMBDA_TASK_MARGIN_S


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret of a domain.

    Its name reaches the function as ``<KEY>_SECRET`` (e.g. ``NUBANK_SECRET``); its value only through Secrets Manager,
    never the environment.
    """

    key: str  # e.g. "nubank"
    description: str
    generated: bool = False  # CDK generates the value (a random key); else the operator puts it
    optional_setting: str = ""  # the context setting that enables it (absent: always created)

    @property
    def env_var(self) -> str:
        """The environment variable that carries the secret's name, e.g. ``NUBANK_SECRET``."""
        return f"{self.key.upper()}_SECRET"


@dataclass(frozen=True, kw_only=True)
class GlueStep:
    """A workflow step run by a Glue 5.0 PySpark job.

    A ``glue:startJobRun.sync`` Task that passes ``$.job_args.<step>`` as the run's arguments and puts the run's summary
    at ``$.<step>_run`` (lower case), leaving the manifest as it was. ``description`` is the Task's Comment and the
    job's Description; ``timeout_min`` the job's timeout (minutes).
    """

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
    """Start the workflow from files landing in the raw bucket.

    An EventBridge rule on "Object Created" under ``prefix`` invokes ``handler``, which decides whether (and as what) to
    start it.
    """

    handler: str  # e.g. "functions.cards.handlers.trigger"
    prefix: str  # raw-bucket key prefix, e.g. "inbox/cards/"
    memory_mb: int = 512
    timeout_s: int = 120


Step: TypeAlias = LambdaStep | GlueStep


@dataclass(frozen=True, kw_only=True)
class Workflow:
    """What a domain's generated definition says beyond its steps (``stacks/asl.py``)."""

    comment: str = ""  # the definition's Comment after "finlake <domain>: " (empty: the spec's description)
    nothing_new: str = "Nothing new ends the run successfully."  # AnythingNew?: what ends a run early
    nothing_to_do: str = "Nothing new: nothing to do."  # the NothingNew (Succeed) state
    success_email: str = "Email the run summary."  # the NotifySuccess state
    notify_start: bool = False  # email when processing starts (NotifyStart, after AnythingNew?)


@dataclass(frozen=True)
class DomainSpec:
    """Everything that differs between two domains' pipelines.

    ``steps`` are the workflow's steps in the order they run: the first is Fetch (a ``LambdaStep``
    that reads the execution input and says whether anything is new); ``stacks/asl.py`` renders the
    definition from them and ``workflow``, unless ``definition_file`` names a hand-written one.
    """

    name: str
    description: str
    partition: str  # "date" (YYYY-MM-DD) or "month" (YYYY-MM)
    schedule: str  # EventBridge Scheduler expression, evaluated in America/Sao_Paulo
    # The partition of a run given no date or month (a scheduled run, a bare `finlake run`): "day",
    # "month" or "previous_month" (functions.common.naming.PERIODS); empty: the day or the month.
    run_period: str = ""
    steps: tuple[Step, ...] = ()
    workflow: Workflow = Workflow()
    # a hand-written definition, path from the project root, for a flow the skeleton cannot express
    # (still under tests/unit/test_definition_contract.py); empty: rendered by stacks/asl.py
    definition_file: str = ""
    timeout_min: int = 60  # state-machine timeout
    tables: tuple[Table, ...] = ()  # the Glue tables the domain's Catalog step registers (functions/<domain>/tables.py)
    reads_internet: bool = True  # whether Fetch calls public sources
    trigger: S3Trigger | None = None
    secrets: tuple[Secret, ...] = ()
    requirements: str = ""  # a requirements file beyond the managed layers, bundled as a layer
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a name that does not match ``DOMAIN_NAME_PATTERN`` (ValueError, saying why)."""
        if not DOMAIN_NAME_PATTERN.fullmatch(self.name):
            raise ValueError(
                f"domain name {self.name!r}: lowercase letters and digits, starting with a letter (a hyphen breaks "
                "the notifier's <prefix>-<domain>-<step> Glue job names; an underscore, the stack's output keys)"
            )

    @property
    def lambdas(self) -> tuple[LambdaStep, ...]:
        """The steps run by Lambda functions, in workflow order."""
        return tuple(step for step in self.steps if isinstance(step, LambdaStep))

    @property
    def glue_jobs(self) -> tuple[GlueStep, ...]:
        """The steps run by Glue jobs, in workflow order."""
        return tuple(step for step in self.steps if isinstance(step, GlueStep))

    @property
    def parallel_runs(self) -> int | None:
        """How many runs of the domain may go at once without queueing behind each other in Glue.

        The smallest ``max_concurrent_runs`` of its jobs; None when it has no Glue job.
        """
        return min((job.max_concurrent_runs for job in self.glue_jobs), default=None)

    @property
    def period(self) -> str:
        """The run period: ``run_period`` if set, else ``day`` for a date-partitioned domain and ``month`` otherwise."""
        return self.run_period or ("day" if self.partition == "date" else "month")

    @property
    def definition_path(self) -> Path:
        """The definition CDK deploys and the embedded AWS runs.

        ``statemachines/<name>.asl.json`` (rendered, ``make asl``) or the hand-written ``definition_file``.
        """
        return ROOT / self.definition_file if self.definition_file else STATEMACHINES_DIR / f"{self.name}.asl.json"

    @property
    def table_names(self) -> tuple[str, ...]:
        """``<database>.<table>`` of each of the domain's tables, default deployment names."""
        return tuple(table.qualified(DEFAULT_NAMES.prefix) for table in self.tables)

    def secret_name(self, key: str) -> str:
        """The Secrets Manager name of the domain's secret ``key``, e.g. ``finlake/bank/nubank``."""
        return DEFAULT_NAMES.secret(self.name, key)

    def substitution_keys(self) -> list[str]:
        """The ``${...}`` placeholders of the domain's definition: each step's function or job, then the shared ones."""
        keys = [f"{s.step}Function" for s in self.lambdas]
        keys += [f"{g.step}Job" for g in self.glue_jobs]
        return [*keys, "NotifyFunction", "NotificationTopic", "DeadLetterQueue", "Region"]


BNDES = DomainSpec(
    name="bndes",
    description="BNDES balance sheets (BRGAAP, IFRS, Prudential Conglomerate) from the CKAN open-data API",
    partition="date",
    schedule="cron(0 7 ? * MON-FRI *)",
    steps=(
        LambdaStep(
            step="Fetch",
            handler="functions.bndes.handlers.fetch",
            access=Access(raw="rw", curated="r"),
            memory_mb=512,
            timeout_s=300,
            description="Download new or changed BNDES CKAN resources into the raw zone, stored as received.",
        ),
        LambdaStep(
            step="Validate",
            handler="functions.bndes.handlers.validate",
            access=Access(raw="r", curated="rw"),
            memory_mb=1024,
            timeout_s=300,
            description="Parse and validate the raw CSVs; malformed rows go to quarantine with the reason.",
        ),
        LambdaStep(
            step="Transform",
            handler="functions.bndes.handlers.transform",
            access=Access(curated="rwd"),
            memory_mb=1024,
            timeout_s=300,
            description="Consolidate all resources into curated Parquet, rewriting only the partitions touched.",
        ),
        LambdaStep(
            step="Catalog",
            handler="functions.bndes.handlers.catalog",
            access=Access(curated="rw", catalog=True),
            memory_mb=512,
            timeout_s=120,
            description="Register the table and its partitions in the Glue Data Catalog.",
        ),
    ),
    workflow=Workflow(
        comment="BNDES balance sheets from the CKAN open-data API -> raw -> curated "
        "(finlake_curated.bndes_balance_sheet).",
        nothing_new="Nothing new (unchanged resources) ends the run successfully.",
        nothing_to_do="No new or changed source data: nothing to do.",
    ),
    timeout_min=30,
    tables=bndes_tables.TABLES,
)

STOCKS = DomainSpec(
    name="stocks",
    description="B3 daily quotes (COTAHIST), the IBOV portfolio and BCB macro series into indicators",
    partition="date",
    schedule="cron(0 21 ? * MON-FRI *)",  # after B3 publishes the day's COTAHIST file
    steps=(
        LambdaStep(
            step="Fetch",
            handler="functions.stocks.handlers.fetch",
            access=Access(raw="rw", curated="r"),
            memory_mb=1024,
            timeout_s=600,
            description="Download the day's COTAHIST file (or a year's for a backfill), the IBOV portfolio and the "
            "BCB series (and FRED and Alpha Vantage when their keys are configured; either failing is a warning) "
            "into the raw zone, as received.",
            secrets=("fred", "alpha_vantage"),
        ),
        LambdaStep(
            step="Validate",
            handler="functions.stocks.handlers.validate",
            access=Access(raw="r", curated="rw"),
            memory_mb=3008,
            timeout_s=900,
            description="Parse COTAHIST exactly (header, trailer, every type-01 field), the portfolio and the series; "
            "stage them as Parquet; quarantine bad records; reject truncated files.",
        ),
        GlueStep(
            step="Transform",
            script="glue/stocks_transform.py",
            workers=2,
            timeout_min=45,
            description="Glue 5.0 PySpark: write curated partitions, then indicators, sector performance, risk "
            "metrics, signals and month-end correlations over the history they need.",
        ),
        LambdaStep(
            step="Catalog",
            handler="functions.stocks.handlers.catalog",
            access=Access(curated="rw", refined="r", catalog=True),
            memory_mb=512,
            timeout_s=120,
            description="Register the tables and the partitions written in the Glue Data Catalog; summarise the run.",
        ),
    ),
    workflow=Workflow(
        comment="B3 COTAHIST quotes, the IBOV theoretical portfolio and BCB SGS series (FRED and Alpha Vantage "
        "when configured) -> raw -> curated (b3_quotes, b3_ibov_portfolio, bcb_series, macro_series, "
        "global_quotes) -> refined (stock_indicators, sector_performance, risk_metrics, trading_signals, "
        "correlations).",
        nothing_new="No COTAHIST file (weekend or B3 holiday) ends the run successfully, without a failure email.",
        nothing_to_do="No trading session to load: nothing to do.",
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
    steps=(
        LambdaStep(
            step="Fetch",
            handler="functions.cards.handlers.fetch",
            access=Access(raw="r", curated="rw"),  # rw: a file no month can take is copied to quarantine
            memory_mb=512,
            timeout_s=300,
            description="Find the month's invoice and payment files in the raw inbox (both must be there) and list "
            "them.",
        ),
        GlueStep(
            step="Validate",
            script="glue/cards_curate.py",
            workers=2,
            timeout_min=45,
            description="Glue 5.0 PySpark: header and row checks, dedup (newest file wins), quarantine, "
            "reconciliation; curated invoices and payments.",
        ),
        GlueStep(
            step="Transform",
            script="glue/cards_book.py",
            workers=4,
            timeout_min=45,
            description="Glue 5.0 PySpark: the 48-variable book for every reference month the files touch, from "
            "12 months of curated history.",
        ),
        LambdaStep(
            step="Catalog",
            handler="functions.cards.handlers.catalog",
            access=Access(curated="rw", refined="r", catalog=True),
            memory_mb=512,
            timeout_s=120,
            description="Register curated invoices and payments and the refined book; reconcile and summarise.",
        ),
    ),
    workflow=Workflow(
        comment="monthly invoice and payment files -> curated (schema checks, dedup, quarantine, reconciliation) "
        "-> refined cards_book (48 variables per client over 1/3/6/12 months).",
        nothing_new="Files already processed with the same content end the run successfully.",
        nothing_to_do="Nothing new for this month.",
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
    steps=(
        LambdaStep(
            step="Fetch",
            handler="functions.bank.handlers.fetch",
            access=Access(raw="rw", curated="r"),
            memory_mb=512,
            timeout_s=300,
            description="Snapshot the Nubank API through pynubank into the raw zone, or list the exports dropped in "
            "the inbox. A rejected login fails at once (no retry).",
            secrets=("nubank",),
        ),
        LambdaStep(
            step="Validate",
            handler="functions.bank.handlers.validate",
            access=Access(raw="r", curated="rw"),
            memory_mb=1024,
            timeout_s=300,
            description="Parse every source exactly; scrub CPFs and account numbers; keyed-hash account ids; "
            "quarantine bad rows with the line and reason.",
            secrets=("bank_hmac",),
        ),
        LambdaStep(
            step="Transform",
            handler="functions.bank.handlers.transform",
            access=Access(raw="r", curated="rwd", refined="rwd"),
            memory_mb=1024,
            timeout_s=300,
            description="Deduplicate across sources, type and categorise every transaction; rewrite the months that "
            "changed; monthly summary and future installments.",
        ),
        LambdaStep(
            step="Catalog",
            handler="functions.bank.handlers.catalog",
            access=Access(curated="rw", refined="r", catalog=True),
            memory_mb=512,
            timeout_s=120,
            description="Register the three tables and their partitions; the month's headline numbers.",
        ),
        LambdaStep(
            step="Publish",
            handler="functions.bank.handlers.publish",
            access=Access(refined="r"),
            memory_mb=512,
            timeout_s=120,
            description="Push the monthly summary to the Google Sheet when the sink is enabled (a no-op otherwise).",
            secrets=("google_sheets",),
        ),
    ),
    workflow=Workflow(
        comment="a person's Nubank card and NuConta (pynubank API snapshots and the app's CSV/OFX exports) -> raw "
        "-> curated (finlake_curated.bank_transactions) -> refined (finlake_refined.bank_monthly_summary, "
        "bank_installments).",
        nothing_new="Exports already processed with the same content (or an unchanged API snapshot) end the run "
        "successfully.",
        nothing_to_do="Nothing new: no email.",
        success_email="Email the run summary with the month's headline numbers (spend, income, top categories).",
        notify_start=True,
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
