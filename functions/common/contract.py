"""The contract both deployers keep: names, environments and arguments of one deployment.

The CDK app (``stacks/``) and the embedded AWS (``finlake/local/runtime.py``) create the same
functions and Glue jobs; each asks this module what to call them, which environment a function
gets and which default arguments a Glue job gets, so the two cannot drift apart. Lambdas import it
too (they ship only ``functions/``), so it uses the standard library only.

Every fixed name is derived from one prefix (the ``finlake.prefix`` setting). Buckets, the KMS
alias, secrets, state machines, Glue jobs, schedules, the notifier function, the budget, the Glue
security configuration, the Athena workgroup, the Glue databases, the dashboard, the alarms and the
stacks carry it, so two deployments in one account and region (the default one and
``make aws-smoke``'s, see ``finlake/smoke.py``) share no name. The default prefix ``finlake`` gives
the names the platform always had.

A prefix is 2 to 20 lowercase letters and digits. No hyphen: the notifier reads a Glue job's domain
back from ``<prefix>-<domain>-<step>``, and a bucket name (``<prefix>-access-logs-<account>-<region>``,
at most 63 characters) leaves 23 characters for it in the longest region names.

Bucket and database names enter as plain strings: CDK passes its tokens (resolved at deploy time),
the embedded AWS its local names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PREFIX = "finlake"
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{1,19}")
TIMEZONE = "America/Sao_Paulo"
"""IANA zone of partitions, schedules and "today" (Brazilian trading and banking days)."""

# The platform's two alarms (stacks/platform_stack.py, stacks/observability.py), after the prefix.
DEAD_LETTER_ALARM = "dead-letter queue holds failed runs"
NOTIFIER_ALARM = "notifier failed: failure emails may be missing"

METRICS_NAMESPACE = "finlake"
"""CloudWatch namespace of the run metrics (``POWERTOOLS_METRICS_NAMESPACE``)."""
RUN_METRICS = ("RowsIn", "RowsValid", "RowsQuarantined", "RowsWritten", "SourcesProcessed")
"""The run counts each domain's Catalog step records once per run (``functions/common/telemetry.py``),
dimension ``service`` = ``<prefix>-<domain>``; the dashboard sums them (``stacks/observability.py``)."""

NOTIFIER_HANDLER = "functions.notifier.handlers.handler"
"""The platform notifier's handler (``<prefix>-notify``), on AWS and on the embedded AWS."""
NOTIFIER_TIMEOUT_S = 30
"""The notifier function's timeout (seconds); a definition's NotifyFailure Task waits it plus the Lambda margin."""

LAKE_ZONES = ("raw", "curated", "refined")
GLUE_VERSION = "5.0"
GLUE_COMMAND = "glueetl"


@dataclass(frozen=True)
class Names:
    """Every fixed resource name of one deployment, e.g. ``Names("finlake").bucket("raw", acct, region)``.

    Parameters
    ----------
    prefix
        2 to 20 lowercase letters and digits, starting with a letter.

    Raises
    ------
    ValueError
        When the prefix does not match ``PREFIX_PATTERN``.
    """

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        """Check the prefix (ValueError when it does not match ``PREFIX_PATTERN``)."""
        if not PREFIX_PATTERN.fullmatch(self.prefix):
            raise ValueError(f"prefix {self.prefix!r}: 2 to 20 lowercase letters and digits, starting with a letter")

    def stack(self, kind: str) -> str:
        """``"Platform"`` -> ``FinlakePlatform`` (CloudFormation stack name)."""
        return f"{self.prefix[0].upper()}{self.prefix[1:]}{kind}"

    def bucket(self, zone: str, account: str, region: str) -> str:
        """A lake zone's bucket, e.g. ``finlake-raw-123456789012-sa-east-1``."""
        return f"{self.prefix}-{zone}-{account}-{region}"

    @property
    def key_alias(self) -> str:
        """The lake key's KMS alias, ``alias/<prefix>``."""
        return f"alias/{self.prefix}"

    def database(self, zone: str) -> str:
        """Glue database of a zone, e.g. ``finlake_curated``."""
        return f"{self.prefix}_{zone}"

    @property
    def workgroup(self) -> str:
        """The Athena workgroup."""
        return self.prefix

    @property
    def glue_security_configuration(self) -> str:
        """The Glue security configuration every job runs under."""
        return self.prefix

    @property
    def notifier(self) -> str:
        """The failure notifier's function name."""
        return f"{self.prefix}-notify"

    def budget(self, region: str) -> str:
        """Budgets are global to an account: the name carries the region of the platform it watches."""
        return f"{self.prefix}-monthly-{region}"

    @property
    def state_machine_prefix(self) -> str:
        """What every state machine name starts with (the notifier's rule and IAM match on it)."""
        return f"{self.prefix}-"

    def state_machine(self, domain: str) -> str:
        """A domain's state machine, e.g. ``finlake-bndes``."""
        return f"{self.state_machine_prefix}{domain}"

    def state_machine_logs(self, domain: str) -> str:
        """The log group of a domain's state machine (vended logs)."""
        return f"/aws/vendedlogs/states/{self.state_machine(domain)}"

    @property
    def glue_job_prefix(self) -> str:
        """What every Glue job name starts with (the notifier's rule and IAM match on it)."""
        return f"{self.prefix}-"

    def glue_job(self, domain: str, step: str) -> str:
        """A Glue job, e.g. ``finlake-cards-validate`` (the notifier reads the domain back from it)."""
        return f"{self.glue_job_prefix}{domain}-{step.lower()}"

    def function(self, domain: str, step: str) -> str:
        """A step's (or the S3 trigger's) function name on the embedded AWS, e.g. ``finlake-bndes-fetch``.

        CDK leaves the deployed functions' names to CloudFormation (a fixed name would make a
        replacement fail on the name in use); the dashboard and the state machine reach them by ARN.
        """
        return f"{self.prefix}-{domain}-{step.lower()}"

    def schedule(self, domain: str) -> str:
        """A domain's EventBridge Scheduler schedule."""
        return f"{self.prefix}-{domain}"

    def secret(self, domain: str, key: str) -> str:
        """A domain's secret, e.g. ``finlake/bank/nubank``."""
        return f"{self.prefix}/{domain}/{key}"

    @property
    def dashboard(self) -> str:
        """The one platform dashboard (context ``dashboard``), a section per domain."""
        return self.prefix

    @property
    def alarm_prefix(self) -> str:
        """What every alarm name starts with (``"<prefix> "``).

        What every alarm name starts with: CloudWatch puts the name in the email subject, and the
        topic policy lets only alarms named ``<prefix> *`` publish.
        """
        return f"{self.prefix} "

    def alarm(self, what: str) -> str:
        """An alarm's name, e.g. ``finlake dead-letter queue holds failed runs`` (``DEAD_LETTER_ALARM``)."""
        return f"{self.alarm_prefix}{what}"

    def service(self, domain: str) -> str:
        """Powertools service name (logs, the metrics' ``service`` dimension) of a domain's functions."""
        return f"{self.prefix}-{domain}"

    def lake(self, buckets: Mapping[str, str]) -> LakeLocation:
        """Where this deployment's lake is, given the bucket name of each zone in ``LAKE_ZONES``.

        Parameters
        ----------
        buckets
            zone (``raw``, ``curated``, ``refined``) -> bucket name (a CDK token or a local name).

        Raises
        ------
        KeyError
            When a zone's bucket is missing.
        """
        return LakeLocation(
            raw_bucket=buckets["raw"],
            curated_bucket=buckets["curated"],
            refined_bucket=buckets["refined"],
            curated_database=self.database("curated"),
            refined_database=self.database("refined"),
            workgroup=self.workgroup,
        )


DEFAULT_NAMES = Names()


@dataclass(frozen=True)
class LakeLocation:
    """The buckets, Glue databases and Athena workgroup a domain's code reads and writes.

    Strings only: bucket names are CDK tokens in the stack and plain names on the embedded AWS.
    """

    raw_bucket: str
    curated_bucket: str
    refined_bucket: str
    curated_database: str
    refined_database: str
    workgroup: str


def function_environment(
    names: Names, domain: str, lake: LakeLocation, secrets: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a domain's step function (and of its S3 trigger).

    Parameters
    ----------
    names
        The deployment's names.
    domain
        The domain, e.g. ``"bndes"``.
    lake
        Where the lake is.
    secrets
        ``<KEY>_SECRET`` environment variable -> secret key of the domain, for the secrets the step
        reads; each gets the secret's *name* (never its value), e.g. ``finlake/bank/nubank``.

    Returns
    -------
    dict
        Variable -> value: the Powertools service and metrics namespace, ``DOMAIN``, the three zone
        buckets, the two databases, the Athena workgroup and the secrets' names.
    """
    environment = {
        "POWERTOOLS_SERVICE_NAME": names.service(domain),
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "DOMAIN": domain,
        "RAW_BUCKET": lake.raw_bucket,
        "CURATED_BUCKET": lake.curated_bucket,
        "REFINED_BUCKET": lake.refined_bucket,
        "CURATED_DATABASE": lake.curated_database,
        "REFINED_DATABASE": lake.refined_database,
        "ATHENA_WORKGROUP": lake.workgroup,
    }
    return environment | {env_var: names.secret(domain, key) for env_var, key in (secrets or {}).items()}


def schedule_start_environment(names: Names, domain: str) -> dict[str, str]:
    """The environment of a domain's ``ScheduleStart`` function.

    The environment of a domain's ``ScheduleStart`` function (``functions/common/schedule.py``),
    without ``STATE_MACHINE_ARN``, which the deployer adds once the machine exists.
    """
    return {"POWERTOOLS_SERVICE_NAME": names.service(domain), "DOMAIN": domain}


def glue_job_arguments(domain: str, lake: LakeLocation, library: str | None = None) -> dict[str, str]:
    """A domain's Glue job's default arguments (a run's own arguments, from the definition, add to them).

    Parameters
    ----------
    domain
        The domain, e.g. ``"cards"``.
    lake
        Where the lake is.
    library
        The ``s3://`` URL of the zip of ``glue/lib`` (the scripts' shared I/O module, ``glue_io``), passed
        as ``--extra-py-files``; None on the embedded AWS, whose runner imports ``glue/lib`` directly.

    Returns
    -------
    dict
        ``--name`` -> value: the job language, Glue's job metrics on, ``--DOMAIN``, the three zone
        buckets and the two databases (and ``--extra-py-files`` when ``library`` is given).
    """
    return {
        **({"--extra-py-files": library} if library else {}),
        "--job-language": "python",
        "--enable-metrics": "true",
        "--DOMAIN": domain,
        "--RAW_BUCKET": lake.raw_bucket,
        "--CURATED_BUCKET": lake.curated_bucket,
        "--REFINED_BUCKET": lake.refined_bucket,
        "--CURATED_DATABASE": lake.curated_database,
        "--REFINED_DATABASE": lake.refined_database,
    }
