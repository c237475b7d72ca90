"""The fixed names of a deployment, all derived from one prefix (the ``finlake.prefix`` setting).

Buckets, the KMS alias, secrets, state machines, Glue jobs, schedules, the notifier function, the
budget, the Glue security configuration, the Athena workgroup, the Glue databases, the dashboard,
the alarms and the stacks themselves carry the prefix, so two deployments in one account and region
(the default one and ``make aws-smoke``'s, see ``finlake/smoke.py``) share no name. The default prefix
``finlake`` gives the names the platform always had.

A prefix is 2 to 20 lowercase letters and digits. No hyphen: the notifier reads a Glue job's domain
back from ``<prefix>-<domain>-<step>``, and a bucket name (``<prefix>-access-logs-<account>-<region>``,
at most 63 characters) leaves 23 characters for it in the longest region names. This module does not
import ``aws_cdk``: the smoke test and the local runtime use it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "finlake"
# The platform's two alarms (stacks/platform_stack.py, stacks/observability.py), after the prefix.
DEAD_LETTER_ALARM = "dead-letter queue holds failed runs"
NOTIFIER_ALARM = "notifier failed: failure emails may be missing"
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{1,19}")


@dataclass(frozen=True)
class Names:
    """Every fixed resource name of one deployment, e.g. ``Names("finlake").bucket("raw", acct, region)``."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
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
        return f"alias/{self.prefix}"

    def database(self, zone: str) -> str:
        """Glue database of a zone, e.g. ``finlake_curated``."""
        return f"{self.prefix}_{zone}"

    @property
    def workgroup(self) -> str:
        return self.prefix

    @property
    def glue_security_configuration(self) -> str:
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
        return f"{self.state_machine_prefix}{domain}"

    def state_machine_logs(self, domain: str) -> str:
        return f"/aws/vendedlogs/states/{self.state_machine(domain)}"

    @property
    def glue_job_prefix(self) -> str:
        """What every Glue job name starts with (the notifier's rule and IAM match on it)."""
        return f"{self.prefix}-"

    def glue_job(self, domain: str, step: str) -> str:
        return f"{self.glue_job_prefix}{domain}-{step.lower()}"

    def schedule(self, domain: str) -> str:
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
        """What every alarm name starts with: CloudWatch puts the name in the email subject, and the
        topic policy lets only alarms named ``<prefix> *`` publish."""
        return f"{self.prefix} "

    def alarm(self, what: str) -> str:
        """An alarm's name, e.g. ``finlake dead-letter queue holds failed runs`` (``DEAD_LETTER_ALARM``)."""
        return f"{self.alarm_prefix}{what}"

    def service(self, domain: str) -> str:
        """Powertools service name (logs, the metrics' ``service`` dimension) of a domain's functions."""
        return f"{self.prefix}-{domain}"


DEFAULT_NAMES = Names()
