"""`make aws-smoke`'s runs on the embedded AWS: the same sample inputs (finlake/smoke.py
``sample_runs``), uploaded to the same inbox keys and started the same way (the S3 triggers for
cards and bank, StartExecution for stocks and bndes), through the deployed definitions. Each run
must succeed under the execution name the smoke waits for, and the messages the topic receives
must satisfy the smoke's Inbox, except the CloudWatch alarm, which the embedded AWS does not have.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.sources import sample_transport
from finlake.local.workspace import Workspace
from finlake.smoke import FORCED_FAILURE_MONTH, Inbox, sample_runs
from functions.common.contract import DEAD_LETTER_ALARM, Names
from functions.common.http import use_transport
from functions.common.naming import RunRequest
from stacks.specs import DOMAINS

pytestmark = pytest.mark.slow


def test_the_smoke_inputs_succeed_under_the_names_the_smoke_waits_for(tmp_path: Path) -> None:
    runs = sample_runs()
    raw = BUCKETS["RAW_BUCKET"]
    results = {}
    messages: list[dict[str, str]] = []  # what the topic received (each run drains the outbox)
    with EmbeddedAws(Workspace.open(tmp_path / "ws")) as aws:
        for run in runs:
            spec = DOMAINS[run.domain]
            expected = run.execution_name(raw)
            if run.triggered:
                said = {}
                for name, body in sorted(run.files.items()):
                    (tmp_path / name).write_bytes(body)
                    said = aws.drop_file(spec, tmp_path / name)
                assert said.get("started") is True and said["execution"] == expected, said
                [execution] = aws.executions(spec)
                results[run.domain] = aws.wait(execution["executionArn"])
                messages += aws.drain_outbox()
                continue
            for name, body in sorted(run.files.items()):
                aws.client("s3").put_object(Bucket=raw, Key=run.key(name), Body=body)
            request = run.request(raw)
            # the generated sources (BCB SGS for stocks), as the runner installs them
            use_transport(run.domain, sample_transport(aws.workspace, run.domain, request))
            try:
                result = aws.run(spec, request, expected)
            finally:
                use_transport(run.domain, None)
            results[run.domain] = {"status": result.status, "name": expected, "cause": result.cause}
            messages += result.notifications
        forced = aws.run(
            DOMAINS["cards"],
            RunRequest(domain="cards", month=FORCED_FAILURE_MONTH).to_input(),
            "smoke-forced-failure-x",
        )
        messages += forced.notifications
        dead_letters = aws.dead_letters()

    assert {d: r["status"] for d, r in results.items()} == dict.fromkeys(DOMAINS, "SUCCEEDED"), results
    assert forced.status == "FAILED"
    assert [m["execution_name"] for m in dead_letters] == ["smoke-forced-failure-x"]
    inbox = Inbox(
        domains=[r.domain for r in runs],
        forced_failure="smoke-forced-failure-x",
        alarm_name=Names().alarm(DEAD_LETTER_ALARM),
    )
    inbox.add([{"Body": json.dumps({"Subject": m["subject"], "Message": m["message"]})} for m in messages])
    assert {check: bool(subject) for check, subject in inbox.results().items()} == {
        **{f"{d} success email": True for d in DOMAINS},
        "forced failure email": True,
        "dead-letter queue alarm notification": False,  # CloudWatch alarms are AWS's alone
    }
    assert inbox.start_failures == []  # the triggers started cards and bank
