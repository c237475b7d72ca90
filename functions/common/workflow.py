"""Starting a domain's state machine from a Lambda function (the S3 triggers)."""

from __future__ import annotations

import json
import os
from typing import Any

from functions.common.lake import client


def start_named_execution(name: str, request: dict[str, Any]) -> bool:
    """Start ``$STATE_MACHINE_ARN`` as execution ``name``; False when it exists already.

    Start ``$STATE_MACHINE_ARN`` as execution ``name``; False when one of that name already
    exists (the same content was already started: Step Functions refuses the duplicate).
    """
    sfn = client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=os.environ["STATE_MACHINE_ARN"], name=name, input=json.dumps(request))
    except sfn.exceptions.ExecutionAlreadyExists:
        return False
    return True
