"""The embedded AWS: the deployed workflows run on moto, in this process.

`EmbeddedAws` creates what the CDK app deploys (buckets, Glue databases, SNS topic, SQS
dead-letter queue, the notifier function, Lambda functions, Glue jobs, state machines), loads
the same state-machine definition from ``statemachines/`` with the same substitutions, and starts
executions on moto's ASL interpreter. Lambda and Glue tasks run this project's handlers and scripts through the
adapters in `finlake.local.moto_patches`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from finlake.local import moto_patches
from finlake.local.glue import LocalGlueRunner
from finlake.local.lake import (
    ACCOUNT,
    BUCKETS,
    DATABASES,
    DLQ,
    LAKE,
    NAMES,
    NOTIFIER,
    OUTBOX,
    REGION,
    TOPIC,
)
from finlake.local.workspace import Workspace
from finlake.ops.executions import StateEvent
from finlake.ops.executions import state_event as _state_event
from finlake.ops.redrive import SENT_ATTRIBUTE, receive_all
from functions.common.contract import (
    GLUE_COMMAND,
    GLUE_VERSION,
    METRICS_NAMESPACE,
    NOTIFIER_HANDLER,
    NOTIFIER_TIMEOUT_S,
    function_environment,
    glue_job_arguments,
)
from functions.common.lake import client as lake_client
from stacks.specs import DomainSpec

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
UNHANDLED = ("FAILED", "TIMED_OUT", "ABORTED")  # the statuses the platform's EventBridge rule sends on
STATUS_POLL_S = 0.05  # between DescribeExecution calls while a run is young
STATUS_POLL_SLOW_AFTER_S, STATUS_POLL_SLOW_S = 2.0, 0.2  # and once it has run that long
HISTORY_POLL_S = 0.5  # between GetExecutionHistory calls for the progress callback
# What the workspace's catalog.json keeps of a table (after its name) and of a partition, as GetTables and GetPartitions
# answer them.
TABLE_FIELDS = ("Description", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")
PARTITION_FIELDS = ("Values", "StorageDescriptor", "Parameters")


@dataclass
class RunResult:
    """One finished execution on the embedded AWS: its status, input, output, error and cause, and what it did.

    ``started`` and ``stopped`` are timezone-aware; ``states`` holds each state entered (input, output, error),
    ``notifications`` the emails the run sent (subject and message).
    """

    name: str
    domain: str
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    started: datetime
    stopped: datetime
    states: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, str]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether the execution's status is SUCCEEDED."""
        return self.status == "SUCCEEDED"

    @property
    def failed_state(self) -> str | None:
        """The step a failed run broke in.

        ``X`` of the ``XFailed`` state its Catch went to, else the last state entered; None when it succeeded.
        """
        if self.succeeded:
            return None
        names = [item["state"] for item in self.states]
        caught = [n.removesuffix("Failed") for n in names if n.endswith("Failed") and n != "NotifyFailure"]
        return caught[0] if caught else (names[-1] if names else None)

    def record(self) -> dict[str, Any]:
        """The run as the workspace keeps it (``runs/*.json``): times as ISO 8601, duration in seconds."""
        return {
            "name": self.name,
            "failed_state": self.failed_state,
            "domain": self.domain,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "started": self.started.isoformat(),
            "stopped": self.stopped.isoformat(),
            "duration_s": round((self.stopped - self.started).total_seconds(), 3),
            "states": self.states,
            "notifications": self.notifications,
        }


def _fake_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("README", "finlake: code runs in process through finlake.local.moto_patches")
    return buffer.getvalue()


class EmbeddedAws:
    """A session on the embedded AWS, bound to a workspace. Use as a context manager."""

    def __init__(self, workspace: Workspace, *, function_env: dict[str, dict[str, str]] | None = None):
        self.workspace = workspace
        self.function_env = function_env or {}  # extra env per "<domain>.<Step>", e.g. a cassette
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.topic_arn = ""
        self.dlq_url = ""
        self.outbox_url = ""
        self.notify_function_arn = ""
        self.state_machines: dict[str, str] = {}
        # What moto and the workspace folder agreed on at the last sync, so that each sync moves only what changed.
        self._agreed: dict[tuple[str, str], _Agreed] = {}
        self._metadata: dict[str, dict[str, str]] = {}  # "bucket/key" -> user metadata (s3-metadata.json)
        self._sync_lock = threading.RLock()  # Glue jobs run on moto's executor threads

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedAws:
        """Start the embedded AWS: test credentials in the environment, moto running definitions, the platform.

        The platform's resources are created, the workspace's objects, catalog and dead letters loaded, and the local
        Glue runner set.
        """
        env = {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            # Embedded-metric JSON would be printed with the run; FINLAKE_METRICS=1 shows it.
            "POWERTOOLS_METRICS_DISABLED": "false" if os.environ.get("FINLAKE_METRICS") else "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("FINLAKE_LOG_LEVEL", "WARNING"),
        }
        self._saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        # A new embedded AWS is a new account: the secrets (and parameters) that warm functions cached for an
        # earlier one in this process (Powertools keeps them for their max_age) are not its values. The providers
        # themselves are kept (``parameters.clear_caches()`` would drop them): each builds a boto3 session of its own,
        # which reads the service's model from disk again (0.2 s).
        for provider in parameters.base.DEFAULT_PROVIDERS.values():
            provider.clear_cache()
        moto_patches.install()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._create_platform()
        self._load_workspace()
        self._load_dead_letters()
        moto_patches.set_glue_runner(LocalGlueRunner(self))
        return self

    def __exit__(self, *exc: object) -> None:
        """Save the workspace and the dead letters, stop moto, and restore the environment it changed."""
        try:
            self.save_workspace()
            self.save_dead_letters()
        finally:
            moto_patches.set_glue_runner(None)
            self._mock.stop()
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def client(self, service: str) -> Any:
        """The process's client for ``service`` in the local region (`functions.common.lake.client`).

        Made once, not per session: making a client reads os.environ, which the in-process Lambda adapter changes on
        moto's executor thread while this thread polls, and the first one of a boto3 session (moto starts a new one)
        reads the service's model from disk.
        """
        return lake_client(service, REGION)

    # -- resources -------------------------------------------------------------------------------

    def _create_platform(self) -> None:
        s3 = self.client("s3")
        for bucket in BUCKETS.values():
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        glue = self.client("glue")
        for database in DATABASES.values():
            glue.create_database(DatabaseInput={"Name": database})
        sns, sqs = self.client("sns"), self.client("sqs")
        self.topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
        self.dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        self.outbox_url = sqs.create_queue(QueueName=OUTBOX)["QueueUrl"]
        outbox_arn = sqs.get_queue_attributes(QueueUrl=self.outbox_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=outbox_arn)
        self.role_arn = self.client("iam").create_role(
            RoleName="finlake-local", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        self.notify_function_arn = self._create_notifier()

    def _create_notifier(self) -> str:
        """The platform's notifier, created once.

        Every definition's NotifyFailure invokes it, and ``run`` hands it the status-change event of a run that ends
        FAILED, TIMED_OUT or ABORTED, as the platform's EventBridge rule does on AWS (moto emits no EventBridge events).
        """
        return str(
            self.client("lambda").create_function(
                FunctionName=NOTIFIER,
                Runtime="python3.12",
                Role=self.role_arn,
                Handler=NOTIFIER_HANDLER,
                Code={"ZipFile": _fake_zip()},
                Timeout=NOTIFIER_TIMEOUT_S,
                Environment={
                    "Variables": {
                        "TOPIC_ARN": self.topic_arn,
                        "POWERTOOLS_SERVICE_NAME": NOTIFIER,
                        "FINLAKE_LOCAL": "true",
                    }
                },
            )["FunctionArn"]
        )

    def deploy(self, spec: DomainSpec) -> str:
        """Create a domain's functions, jobs and state machine; return the state machine ARN."""
        if spec.name in self.state_machines:
            return self.state_machines[spec.name]
        substitutions = {
            "NotifyFunction": self.notify_function_arn,
            "NotificationTopic": self.topic_arn,
            "DeadLetterQueue": self.dlq_url,
            "Region": REGION,
        }
        from finlake.local.sources import base_env

        lam = self.client("lambda")
        secret_names = self._create_secrets(spec)
        for step in spec.lambdas:
            secrets = {s.env_var: s.key for s in spec.secrets if s.key in step.secrets and s.key in secret_names}
            env = {
                **function_environment(NAMES, spec.name, LAKE, secrets),
                "FINLAKE_LOCAL": "true",
                **base_env(spec.name).get(step.step, {}),
                **self.function_env.get(f"{spec.name}.{step.step}", {}),
            }
            arn = lam.create_function(
                FunctionName=NAMES.function(spec.name, step.step),
                Runtime="python3.12",
                Role=self.role_arn,
                Handler=step.handler,
                Code={"ZipFile": _fake_zip()},
                MemorySize=step.memory_mb,
                Timeout=step.timeout_s,
                Environment={"Variables": env},
            )["FunctionArn"]
            substitutions[f"{step.step}Function"] = arn
        glue = self.client("glue")
        for job in spec.glue_jobs:
            name = NAMES.glue_job(spec.name, job.step)
            glue.create_job(
                Name=name,
                Role=self.role_arn,
                Command={"Name": GLUE_COMMAND, "ScriptLocation": job.script, "PythonVersion": "3"},
                DefaultArguments=glue_job_arguments(spec.name, LAKE),
                GlueVersion=GLUE_VERSION,
                ExecutionProperty={"MaxConcurrentRuns": job.max_concurrent_runs},
            )
            substitutions[f"{job.step}Job"] = name
        definition = render_definition(spec.definition_path, substitutions)
        arn = self.client("stepfunctions").create_state_machine(
            name=NAMES.state_machine(spec.name), definition=definition, roleArn=self.role_arn, type="STANDARD"
        )["stateMachineArn"]
        self.state_machines[spec.name] = arn
        if spec.trigger:
            env = {**function_environment(NAMES, spec.name, LAKE), "FINLAKE_LOCAL": "true", "STATE_MACHINE_ARN": arn}
            lam.create_function(
                FunctionName=NAMES.function(spec.name, "Trigger"),
                Runtime="python3.12",
                Role=self.role_arn,
                Handler=spec.trigger.handler,
                Code={"ZipFile": _fake_zip()},
                MemorySize=spec.trigger.memory_mb,
                Timeout=spec.trigger.timeout_s,
                Environment={"Variables": env},
            )
        return arn

    def _create_secrets(self, spec: DomainSpec) -> dict[str, str]:
        """The domain's secrets with local values.

        Optional ones stay off in local mode (e.g. the Google Sheets sink) except the sources the sample transport
        answers (the adapter's optional_secrets). Returns key -> secret name, named as the stack names them.
        """
        from finlake.local.sources import local_optional, local_secret

        manager = self.client("secretsmanager")
        names = {}
        for secret in spec.secrets:
            if secret.optional_setting and secret.optional_setting not in local_optional(spec.name):
                continue
            name = spec.secret_name(secret.key)
            manager.create_secret(Name=name, SecretString=local_secret(self.workspace, spec.name, secret.key))
            names[secret.key] = name
        return names

    def drop_file(self, spec: DomainSpec, path: Path) -> dict[str, Any]:
        """Upload a file under the domain's trigger prefix and deliver the S3 "Object Created" event.

        The event goes to the domain's trigger function, as the EventBridge rule does in AWS; returns what the trigger
        said.
        """
        assert spec.trigger is not None, f"{spec.name} has no S3 trigger"
        self.deploy(spec)
        key = spec.trigger.prefix + path.name
        self.client("s3").put_object(Bucket=BUCKETS["RAW_BUCKET"], Key=key, Body=path.read_bytes())
        event = {
            "version": "0",
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": BUCKETS["RAW_BUCKET"]}, "object": {"key": key, "size": path.stat().st_size}},
        }
        response = self.client("lambda").invoke(
            FunctionName=NAMES.function(spec.name, "Trigger"), Payload=json.dumps(event).encode()
        )
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            raise RuntimeError(f"trigger of {spec.name} failed: {payload}")
        return payload

    def executions(self, spec: DomainSpec) -> list[dict[str, Any]]:
        """The executions of ``spec``'s state machine, as Step Functions lists them (deploying it first if needed)."""
        sfn = self.client("stepfunctions")
        return list(sfn.list_executions(stateMachineArn=self.deploy(spec))["executions"])

    def wait(self, execution_arn: str, timeout_s: float = 1800) -> dict[str, Any]:
        """Wait for an execution to end; its DescribeExecution answer.

        Raises
        ------
        TimeoutError
            When it has not ended after ``timeout_s`` seconds.
        """
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while (description := sfn.describe_execution(executionArn=execution_arn))["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} did not finish in {timeout_s} s")
            time.sleep(0.1)
        return dict(description)

    # -- executions ------------------------------------------------------------------------------

    def run(
        self,
        spec: DomainSpec,
        execution_input: dict[str, Any],
        name: str,
        on_event: Callable[[StateEvent], None] | None = None,
        timeout_s: float = 1800,
    ) -> RunResult:
        """Run ``spec``'s workflow as execution ``name`` and wait for it to end.

        Parameters
        ----------
        spec
            The domain; its state machine is deployed on first use.
        execution_input
            The execution input (a RunRequest dict).
        name
            The execution name (deterministic, `finlake.naming`).
        on_event
            Called with each state entered or left, in order, at most ``HISTORY_POLL_S`` after it happened (and with
            the last ones when the run ends or times out).
        timeout_s
            Seconds before the execution is stopped.

        Returns
        -------
        RunResult
            The outcome; a FAILED, TIMED_OUT or ABORTED run has also had its status-change event sent to the notifier.

        Raises
        ------
        TimeoutError
            When the execution has not ended after ``timeout_s`` (it is stopped first).
        """
        arn = self.deploy(spec)
        sfn = self.client("stepfunctions")
        execution_arn = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(execution_input))[
            "executionArn"
        ]
        seen = 0
        started = time.monotonic()
        history_at = started
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            ended = description["status"] in TERMINAL
            now = time.monotonic()
            # moto answers GetExecutionHistory with the whole history (it ignores maxResults), 30-100 ms of CPU a
            # call for a run's 30 events of state data: read it for the progress callback at most every
            # HISTORY_POLL_S and only when moto holds events it has not answered with yet, and once the run has ended.
            timed_out = not ended and now - started > timeout_s
            polled = on_event and now - history_at >= HISTORY_POLL_S
            if polled:
                history_at = now
            if ended or timed_out or (polled and _event_count(execution_arn) != seen):
                events = self._history(execution_arn)
                for event in events[seen:]:
                    state_event = _state_event(event)
                    if state_event and on_event:
                        on_event(state_event)
                seen = len(events)
            if ended:
                break
            if timed_out:
                sfn.stop_execution(executionArn=execution_arn, error="finlake.LocalTimeout")
                raise TimeoutError(f"execution {name} did not finish in {timeout_s} s")
            # short runs (most steps take well under a second) end soon after they do; long ones are polled less
            time.sleep(STATUS_POLL_S if now - started < STATUS_POLL_SLOW_AFTER_S else STATUS_POLL_SLOW_S)
        if description["status"] in UNHANDLED:
            self._status_change(description)
        output = description.get("output")
        return RunResult(
            name=name,
            domain=spec.name,
            status=description["status"],
            input=execution_input,
            output=json.loads(output) if output else None,
            error=description.get("error"),
            cause=description.get("cause"),
            started=description["startDate"],
            stopped=description.get("stopDate") or datetime.now(description["startDate"].tzinfo),
            states=_state_history(events),
            notifications=self.drain_outbox(),
        )

    def _status_change(self, description: dict[str, Any]) -> None:
        """Invoke the notifier with the "Step Functions Execution Status Change" event EventBridge would deliver.

        It emails only when the run's NotifyFailure did not (a local run then prints the email of every failure path a
        run can take).
        """
        detail = {
            key: description.get(key)
            for key in ("executionArn", "stateMachineArn", "name", "status", "input", "error", "cause")
        }
        event = {
            "version": "0",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": ACCOUNT,
            "region": REGION,
            "resources": [description["executionArn"]],
            "detail": {**detail, "inputDetails": {"included": True}},
        }
        response = self.client("lambda").invoke(FunctionName=NOTIFIER, Payload=json.dumps(event))
        if response.get("FunctionError"):
            raise RuntimeError(f"the notifier failed on the status change: {response['Payload'].read().decode()}")

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def drain_outbox(self) -> list[dict[str, str]]:
        """The SNS messages published since the last call (what the emails would carry)."""
        sqs = self.client("sqs")
        found: list[dict[str, str]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.outbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                body = json.loads(message["Body"])
                found.append({"subject": body.get("Subject", ""), "message": body.get("Message", "")})
                sqs.delete_message(QueueUrl=self.outbox_url, ReceiptHandle=message["ReceiptHandle"])

    def dead_letters(self) -> list[dict[str, Any]]:
        """Peek at the dead-letter queue without consuming it."""
        sqs = self.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]

    def _load_dead_letters(self) -> None:
        """Put the workspace's dead letters back on the queue, each with the time it was first sent.

        The time goes in the message attribute `SENT_ATTRIBUTE`: SQS sets SentTimestamp itself.
        """
        sqs = self.client("sqs")
        for letter in self.workspace.dead_letters():
            sqs.send_message(
                QueueUrl=self.dlq_url,
                MessageBody=json.dumps(letter["body"]),
                MessageAttributes={SENT_ATTRIBUTE: {"DataType": "String", "StringValue": letter["sent"]}},
            )

    def save_dead_letters(self) -> None:
        """Write the dead-letter queue's messages to the workspace (``dead-letters.json``), oldest first.

        Called as the session ends: reading hides the messages, and moto stops next.
        """
        letters = receive_all(self.client("sqs"), self.dlq_url, visibility_s=3600, wait_s=0)
        self.workspace.write_json(
            "dead-letters.json", [{"sent": letter.sent.isoformat(), "body": letter.body} for letter in letters]
        )

    def put_input(self, domain: str, path: Path) -> str:
        """Upload a local file into the raw bucket's inbox; return its S3 URI."""
        key = f"inbox/{domain}/{path.name}"
        self.client("s3").put_object(Bucket=BUCKETS["RAW_BUCKET"], Key=key, Body=path.read_bytes())
        return f"s3://{BUCKETS['RAW_BUCKET']}/{key}"

    # -- persistence -----------------------------------------------------------------------------

    def _load_workspace(self) -> None:
        self._metadata = self.workspace.read_json("s3-metadata.json", {})
        self.load_objects_from_workspace()
        glue = self.client("glue")
        for database, tables in self.workspace.read_json("catalog.json", {}).items():
            for table in tables.values():
                glue.create_table(DatabaseName=database, TableInput=table["table"])
                partitions = table["partitions"]
                for start in range(0, len(partitions), 100):
                    glue.batch_create_partition(
                        DatabaseName=database,
                        TableName=table["table"]["Name"],
                        PartitionInputList=partitions[start : start + 100],
                    )

    def load_objects_from_workspace(self) -> None:
        """Make moto's buckets hold exactly the workspace folder's objects (after a local Glue job).

        Incremental: only files added or changed since the last sync (its `_stamp` differs from what was agreed,
        and the bytes differ from the object's MD5 ETag) are put, with their user metadata from ``s3-metadata.json``,
        and only objects whose file is gone are deleted; an unchanged object keeps its one version. Objects put into
        moto since the last sync (a Glue script's boto3 writes, while Spark wrote to the folder) are first written to
        the folder, so they are kept. Hadoop's ``.crc`` side files are never put.
        """
        with self._sync_lock:
            versions = self._latest_versions()
            for (bucket, key), version in versions.items():
                agreed = self._agreed.get((bucket, key))
                if agreed is None or agreed.version != version:
                    self._pull(bucket, key)
            # Deleted in moto during the job while its file stayed: the folder's copy is put back.
            for gone in set(self._agreed) - set(versions):
                del self._agreed[gone]
            on_disk = {
                (b, k): p
                for b, k, p in self.workspace.iter_objects()
                if b in BUCKETS.values() and not _hadoop_checksum(p)
            }
            for (bucket, key), path in on_disk.items():
                self._push(bucket, key, path)
            for bucket, key in set(self._agreed) - set(on_disk):
                self.client("s3").delete_object(Bucket=bucket, Key=key)
                del self._agreed[(bucket, key)]
                self._metadata.pop(f"{bucket}/{key}", None)
            self._save_metadata()

    def _save_objects(self) -> None:
        """Make the workspace folder hold exactly moto's objects, and ``s3-metadata.json`` their user metadata.

        Incremental: only objects with a new version since the last sync, or whose file was changed or removed
        since, are read from moto; files of objects no longer in moto (and Hadoop's ``.crc`` side files) are removed.
        """
        with self._sync_lock:
            versions = self._latest_versions()
            on_disk = {(b, k): p for b, k, p in self.workspace.iter_objects()}
            for (bucket, key), version in versions.items():
                agreed, path = self._agreed.get((bucket, key)), on_disk.get((bucket, key))
                if agreed is not None and agreed.version == version and path is not None:
                    stat = path.stat()
                    if agreed.stamp == _stamp(stat):
                        continue
                self._pull(bucket, key)
            for (bucket, key), path in on_disk.items():
                if (bucket, key) not in versions:
                    path.unlink()
            for gone in set(self._agreed) - set(versions):
                del self._agreed[gone]
                self._metadata.pop(f"{gone[0]}/{gone[1]}", None)
            self._save_metadata()

    def save_workspace(self) -> None:
        """Mirror moto's buckets (`_save_objects`) and Glue catalog (``catalog.json``) into the workspace folder."""
        self._save_objects()
        self.workspace.write_json("catalog.json", self.catalog())

    def _save_metadata(self) -> None:
        """Write ``s3-metadata.json``: the user metadata of the objects moto and the folder agree on."""
        self._metadata = {
            name: meta for name, meta in self._metadata.items() if tuple(name.split("/", 1)) in self._agreed
        }
        self.workspace.write_json("s3-metadata.json", self._metadata)

    def _push(self, bucket: str, key: str, path: Path) -> None:
        """Put file ``path`` as object ``key`` of ``bucket`` unless it is what moto holds; agree on it.

        Put into moto's S3 backend, as its PutObject handler puts (a new version, the user metadata under its header
        names, notifications sent), not through the API: a sync restores what moto held before, and each call
        through boto3 and moto's request handling cost 2.2 ms (opening a workspace of 2,000 objects: 4.4 -> 0.2 s).
        The local buckets have no default encryption, lock or tags; what a put through boto3 adds beyond this is the
        CRC32 checksum botocore sends, which no finlake code reads (tests/unit/test_workspace_sync.py).
        """
        agreed = self._agreed.get((bucket, key))
        stat = path.stat()
        if agreed is not None and agreed.stamp == _stamp(stat):
            return
        body = path.read_bytes()
        # Rewritten with the same bytes (a single-part ETag is the MD5 of the bytes): no new version.
        if agreed is not None and agreed.etag.strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest():
            self._agreed[(bucket, key)] = agreed._replace(stamp=_stamp(stat))
            return
        obj = _s3_backend().put_object(bucket, key, body)
        obj.set_metadata(
            {
                f"{USER_METADATA}{name.lower()}": value
                for name, value in self._metadata.get(f"{bucket}/{key}", {}).items()
            }
        )
        self._agreed[(bucket, key)] = _Agreed(str(obj.version_id), obj.etag, _stamp(stat))

    def _pull(self, bucket: str, key: str) -> None:
        """Write object ``key`` of ``bucket`` to its file (when the bytes differ) and agree on its version.

        Read from moto's S3 backend, like `_push`; ``KeyError`` if moto does not hold the object.
        """
        obj = _s3_backend().get_object(bucket, key)
        if obj is None:
            raise KeyError(f"s3://{bucket}/{key} is not in the embedded AWS")
        body = obj.value
        path = self.workspace.object_path(bucket, key)
        if not path.is_file() or path.read_bytes() != body:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        stat = path.stat()
        self._agreed[(bucket, key)] = _Agreed(str(obj.version_id), obj.etag, _stamp(stat))
        metadata = {
            k.lower()[len(USER_METADATA) :]: v for k, v in obj.metadata.items() if k.lower().startswith(USER_METADATA)
        }
        if metadata:
            self._metadata[f"{bucket}/{key}"] = metadata
        else:
            self._metadata.pop(f"{bucket}/{key}", None)

    def _latest_versions(self) -> dict[tuple[str, str], str]:
        """(bucket, key) -> VersionId of every object in moto's buckets (their latest version).

        The buckets are versioned, so a new VersionId means the object was put again, whatever its bytes and metadata.
        Read from moto's S3 backend rather than through ListObjectVersions: moto answers each page of that call by
        deep-copying every version of the bucket, bodies included (about 1.5 s for the demo's 2,500 objects).
        """
        from moto.s3.models import FakeKey

        backend = _s3_backend()
        return {
            (bucket, key): str(obj.version_id)
            for bucket in BUCKETS.values()
            for key, obj in backend.get_bucket(bucket).keys.items()  # a copy: safe while a Lambda thread puts
            if isinstance(obj, FakeKey)  # not a delete marker
        }

    def catalog(self) -> dict[str, dict[str, Any]]:
        """The Glue catalog of every lake database: ``{database: {table: {"table": ..., "partitions": [...]}}}``.

        Each table is its current ``TableInput`` (name, description, storage descriptor, partition keys, type,
        parameters) and each partition its ``Values``, ``StorageDescriptor`` and ``Parameters``, as GetTables and
        GetPartitions answer them. Read from moto's Glue backend rather than through those calls: moto serializes
        every partition of a page for each call, and the catalog is saved before every Glue job and after every run
        (about 2,500 partitions after the demo). The dicts inside are moto's own: read them, never change them.
        """
        from moto.glue.models import glue_backends

        backend = glue_backends[ACCOUNT][REGION]
        result: dict[str, dict[str, Any]] = {}
        for database in DATABASES.values():
            result[database] = {}
            for name, table in list(backend.databases[database].tables.items()):  # a copy: a Lambda thread may add
                current = table.get_version(str(table._current_version))
                table_input = {k: current[k] for k in TABLE_FIELDS if k in current}
                partitions = [
                    {k: p.partition_input[k] for k in PARTITION_FIELDS if k in p.partition_input}
                    for p in list(table.partitions.values())
                ]
                result[database][name] = {"table": {"Name": name, **table_input}, "partitions": partitions}
        return result


USER_METADATA = "x-amz-meta-"  # how moto keeps an object's user metadata: under its header names


def _s3_backend() -> Any:
    """The S3 backend (moto's) of the embedded AWS's account."""
    from moto.s3.models import s3_backends

    return s3_backends[ACCOUNT]["aws"]


class _Agreed(NamedTuple):
    """An object as moto and the workspace folder last agreed on it: moto's version and ETag, the file's stamp."""

    version: str
    etag: str
    stamp: tuple[int, int, int, int]  # `_stamp` of the file


def _stamp(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What says a file changed without reading it: size, mtime, ctime and inode.

    mtime alone misses a same-size rewrite that keeps it (``cp -p``, rsync, ``os.utime``) or falls in the same tick
    of a coarse clock; ctime cannot be set by any tool and changes with every write, and a file replaced by a rename
    (Hadoop's commit) has a new inode.
    """
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _hadoop_checksum(path: Path) -> bool:
    """``.part-0000.parquet.crc``: what Hadoop's local file system writes beside each file."""
    return path.name.startswith(".") and path.name.endswith(".crc")


def render_definition(path: Path, substitutions: dict[str, str]) -> str:
    """The definition with ``${Name}`` substitutions filled, as CDK's definition_substitutions does."""
    text = path.read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    if "${" in text.replace("$${", ""):
        missing = sorted({part.split("}")[0] for part in text.split("${")[1:]})
        raise ValueError(f"{path.name}: no value for substitutions {missing}")
    return text


STATE_IO_CHARS = 20_000  # a state's input or output kept in the run record (manifests are small)


def _state_history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the Step Functions console shows of each state, in execution order.

    ``[{state, type, entered, exited, duration_s, input, output, error, cause}]``: input and output as JSON text, cut at
    `STATE_IO_CHARS`; error and cause of a failed task, attributed to the state that ran it.
    """
    history: list[dict[str, Any]] = []
    open_states: dict[str, dict[str, Any]] = {}
    last: dict[str, Any] | None = None
    for event in events:
        state_event = _state_event(event)
        if state_event is None:
            continue
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if state_event.kind == "failed":
            if last is not None and last["exited"] is None and not event["type"].startswith("Execution"):
                last["error"], last["cause"] = details.get("error"), details.get("cause")
            continue
        if not state_event.state:
            continue
        if state_event.kind == "entered":
            item: dict[str, Any] = {
                "state": state_event.state,
                "type": event["type"].removesuffix("StateEntered"),
                "entered": state_event.at.isoformat(),
                "exited": None,
                "input": _cut(details.get("input")),
            }
            open_states[state_event.state] = item
            history.append(item)
            last = item
        elif state_event.kind == "exited" and state_event.state in open_states:
            item = open_states.pop(state_event.state)
            item["exited"] = state_event.at.isoformat()
            item["duration_s"] = round((state_event.at - datetime.fromisoformat(item["entered"])).total_seconds(), 3)
            item["output"] = _cut(details.get("output"))
    return history


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= STATE_IO_CHARS:
        return text
    return text[:STATE_IO_CHARS] + f"... ({len(text) - STATE_IO_CHARS} more characters)"


@contextmanager
def embedded_aws(workspace: Workspace, **kwargs: Any) -> Iterator[EmbeddedAws]:
    """An `EmbeddedAws` on ``workspace`` for the ``with`` block (``kwargs`` go to its constructor)."""
    with EmbeddedAws(workspace, **kwargs) as aws:
        yield aws


def _event_count(execution_arn: str) -> int | None:
    """How many history events moto's Step Functions holds for ``execution_arn``; None when it cannot tell.

    Read from moto's backend (no serialization): a check of whether GetExecutionHistory has anything new, the events
    themselves are always read through the API.
    """
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    try:
        execution: Any = stepfunctions_parser_backends[ACCOUNT][REGION].describe_execution(execution_arn)
        return len(execution.exec_worker.env.event_manager.get_event_history())
    except Exception:  # not started yet, or moto's internals moved: read the history
        return None
