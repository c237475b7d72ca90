"""The constructs a domain's steps are built from: its grants on the lake, a Lambda step, a Glue job.

``DomainPipeline`` composes them once per step of a ``DomainSpec``; nothing here names a domain.
Unnamed resources take readable logical ids from the construct path (``BndesFetchRole...``,
``BndesFetchFunction...``); a named Glue job is its construct's ``Default`` child, so it keeps the
logical id ``<Domain><Step>Job`` that CloudFormation knows it by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from functions.common.contract import GLUE_COMMAND, GLUE_VERSION, LakeLocation, Names, glue_job_arguments
from functions.common.tables import Table
from stacks import nag
from stacks.platform_stack import RUNTIME
from stacks.specs import Access, GlueStep

CATALOG_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",
    "glue:DeletePartition",
    "glue:BatchDeletePartition",
]
ATHENA_ACTIONS = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
]


@dataclass(frozen=True)
class LakeAccess:
    """One domain's view of the lake, to grant a step's ``Access`` on it.

    Attributes
    ----------
    domain : str
        The domain's name (``"bndes"``), for error messages.
    buckets : Mapping[str, s3.IBucket]
        The zones' buckets by zone: ``"raw"``, ``"curated"``, ``"refined"``, ``"athena-results"``.
    names : Names
        The deployment's names (databases, Athena workgroup).
    tables : Sequence[Table]
        The domain's tables (``functions/<domain>/tables.py``), the only ones its catalog grant names.
    """

    domain: str
    buckets: Mapping[str, s3.IBucket]
    names: Names
    tables: Sequence[Table]

    def grant(self, role: iam.IRole, access: Access) -> None:
        """Grant ``role`` what ``access`` asks for, and acknowledge the action families it implies.

        Parameters
        ----------
        role : iam.IRole
            The step's role (a Lambda function's or a Glue job's).
        access : Access
            Per zone ``""``, ``"r"``, ``"w"``, ``"rw"`` (read, put) or ``"rwd"`` (read, write, delete);
            ``catalog`` for the domain's tables in the Data Catalog, ``athena`` for the workgroup
            and its results bucket.

        Raises
        ------
        ValueError
            If ``access.catalog`` is set but the domain declares no tables.
        """
        zones = {"raw": access.raw, "curated": access.curated, "refined": access.refined}
        for zone, mode in zones.items():
            bucket = self.buckets[zone]
            if mode == "rwd":
                bucket.grant_read_write(role)
                continue
            if "r" in mode:
                bucket.grant_read(role)
            if "w" in mode:
                bucket.grant_put(role)
        if access.catalog:
            role.add_to_principal_policy(self.catalog_statement(Stack.of(role)))
        if access.athena:
            zones["athena-results"] = "rwd"
            self.buckets["athena-results"].grant_read_write(role)
            workgroup = Stack.of(role).format_arn(
                service="athena", resource="workgroup", resource_name=self.names.workgroup
            )
            role.add_to_principal_policy(iam.PolicyStatement(actions=ATHENA_ACTIONS, resources=[workgroup]))
        nag.zone_grants(role, zones, self.names)

    def catalog_statement(self, stack: Stack) -> iam.PolicyStatement:
        """Glue Data Catalog access scoped to the lake's two databases and the domain's own tables.

        Parameters
        ----------
        stack : Stack
            The stack whose account and region the ARNs name.

        Returns
        -------
        iam.PolicyStatement
            ``CATALOG_ACTIONS`` on the catalog, the curated and refined databases and each table of
            ``tables`` in its zone's database.

        Raises
        ------
        ValueError
            If the domain declares no tables.
        """
        if not self.tables:
            raise ValueError(f"{self.domain}: a step has catalog access but the spec declares no tables")
        databases = (self.names.database("curated"), self.names.database("refined"))
        resources = [stack.format_arn(service="glue", resource="catalog")]
        resources += [stack.format_arn(service="glue", resource="database", resource_name=d) for d in databases]
        resources += [
            stack.format_arn(service="glue", resource="table", resource_name=f"{self.names.database(t.zone)}/{t.name}")
            for t in self.tables
        ]
        return iam.PolicyStatement(actions=CATALOG_ACTIONS, resources=resources)


class StepFunction(Construct):
    """A Lambda function with its own role and KMS-encrypted log group, traced with X-Ray.

    Used for every Lambda step of a domain and for the functions that start its workflow (the
    scheduled start, the S3 trigger). The role can write the log group and X-Ray traces and nothing
    else; the caller grants the rest on ``role``.

    Parameters
    ----------
    scope : Construct
        The domain's pipeline.
    construct_id : str
        The step (``"Fetch"``): the children's logical ids read ``<Domain><Step>Role``,
        ``<Domain><Step>Logs``, ``<Domain><Step>Function`` plus a hash.
    role_description : str
        The IAM role's description.
    description : str
        The function's description.
    handler : str
        The handler's dotted path (``"functions.bndes.handlers.fetch"``).
    code : lambda_.Code
        The project's code asset.
    memory_mb : int
        Memory in MB.
    timeout_s : int
        Timeout in seconds.
    layers : Sequence[lambda_.ILayerVersion]
        The layers, in Lambda's merge order (``stacks/layers.py``).
    environment : Mapping[str, str]
        The environment (names and settings only: secrets are passed by name).
    log_retention : logs.RetentionDays
        How long the log group keeps events.
    log_key : kms.IKey
        The lake key, which encrypts the log group.

    Attributes
    ----------
    role : iam.Role
        The function's execution role.
    log_group : logs.LogGroup
        The function's log group (unnamed, retained on delete, as CDK's default).
    function : lambda_.Function
        The function.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_description: str,
        description: str,
        handler: str,
        code: lambda_.Code,
        memory_mb: int,
        timeout_s: int,
        layers: Sequence[lambda_.ILayerVersion],
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=role_description
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, encryption_key=log_key)
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            handler=handler,
            code=code,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            layers=list(layers),
            environment=dict(environment),
            log_group=self.log_group,
            role=self.role,
        )
        nag.lambda_role(self.role)


class GlueJob(Construct):
    """A Glue PySpark job: its script and the shared ``glue/lib`` as assets, its role, the job.

    Parameters
    ----------
    scope : Construct
        The domain's pipeline.
    construct_id : str
        ``"<Step>Job"``. The ``CfnJob`` is this construct's ``Default`` child, so its logical id is
        ``<Domain><Step>Job`` plus the hash of that path: the job has a fixed name, and CloudFormation
        cannot replace a named resource.
    step : GlueStep
        The step: script path, workers, worker type, timeout, concurrency, access.
    domain : str
        The domain's name (``"stocks"``), for descriptions and the ``--DOMAIN`` argument.
    job_name : str
        The job's physical name (``Names.glue_job``).
    project_root : Path
        The checkout, against which ``step.script`` and ``glue/lib`` are resolved.
    lake : LakeAccess
        The domain's lake, on which the role gets ``step.access``.
    location : LakeLocation
        The lake as the job sees it (bucket names, databases), for its default arguments.
    key : kms.IKey
        The lake key: the security configuration encrypts S3 output, logs and bookmarks with it.
    security_configuration : str
        The name of the platform's Glue security configuration.

    Attributes
    ----------
    role : iam.Role
        The job's role.
    job : glue.CfnJob
        The job.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        step: GlueStep,
        domain: str,
        job_name: str,
        project_root: Path,
        lake: LakeAccess,
        location: LakeLocation,
        key: kms.IKey,
        security_configuration: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        script = s3_assets.Asset(self, "Script", path=str(project_root / step.script))
        # glue/lib/ zipped: Glue puts the zip on sys.path, so the script's `import glue_io` finds the module at its root
        library = s3_assets.Asset(
            self, "Library", path=str(project_root / "glue/lib"), exclude=["__pycache__", "*.pyc"]
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"finlake {domain} {step.step} Glue job",
        )
        script.grant_read(self.role)
        library.grant_read(self.role)
        lake.grant(self.role, step.access)
        key.grant_encrypt_decrypt(self.role)  # security configuration: S3, logs, bookmarks
        glue_logs = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws-glue/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[glue_logs],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
            )
        )
        self.job = glue.CfnJob(
            self,
            "Default",
            name=job_name,
            description=step.description or f"finlake {domain} {step.step}",
            role=self.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name=GLUE_COMMAND, python_version="3", script_location=script.s3_object_url
            ),
            glue_version=GLUE_VERSION,
            worker_type=step.worker_type,
            number_of_workers=step.workers,
            timeout=step.timeout_min,
            max_retries=0,
            # An overlapping run (a schedule during a backfill, two operators) waits in Glue's queue
            # instead of failing with ConcurrentRunsExceededException; the task timeout covers the
            # wait (stacks/specs.py GLUE_RUNS_AHEAD).
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=step.max_concurrent_runs),
            job_run_queuing_enabled=True,
            security_configuration=security_configuration,
            default_arguments=glue_job_arguments(domain, location, library.s3_object_url),
        )
        nag.glue_role(self.role)
        nag.glue_job(self.job)
