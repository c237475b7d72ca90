"""`finlake cost`: estimate the deployment's monthly AWS bill from the synthesized templates.

What is deployed comes from the CloudFormation templates (synthesized in this process with asset
bundling skipped, or read from a ``cdk.out`` folder): state machines and the states an execution
passes through, Lambda memory, Glue workers, KMS keys, secrets, alarms, dashboards, log groups,
SNS subscriptions and the EventBridge Scheduler expressions with their state. How often and how
long things run is data in ``finlake/cost_assumptions.json``; prices are data in ``finlake/prices.json``, dated.
The arithmetic is Decimal throughout so a test can check it to the last digit.

One module per step, each importing only the ones before it:

- `finlake.cost.units`: constants (the 28-year calendar cycle, DPUs per Glue worker type) and ``D``.
- `finlake.cost.schedules`: a Scheduler expression -> runs per month.
- `finlake.cost.paths`: a state machine definition -> the states of its longest and shortest success path.
- `finlake.cost.templates`: CloudFormation templates -> a `Deployment`.
- `finlake.cost.assumptions`: the price table and the usage assumptions (JSON data).
- `finlake.cost.estimate`: `Deployment` + assumptions + prices -> an `Estimate` of line items.
- `finlake.cost.report`: the estimate as a table or JSON, and the `finlake cost` click command
  (``python -m finlake.cost`` runs it).
"""

from finlake.cost.assumptions import load_assumptions, load_prices
from finlake.cost.estimate import Estimate, LineItem, Usage, WorkflowRuns, estimate
from finlake.cost.paths import longest_success_path, shortest_success_path, success_paths
from finlake.cost.report import assumption_problems, cost, render_table, to_json
from finlake.cost.schedules import cron_runs_per_month, runs_per_month
from finlake.cost.templates import (
    Deployment,
    Function,
    GlueJob,
    Schedule,
    Step,
    Workflow,
    assets_loader,
    read_cdk_out,
    read_deployment,
    synthesize_deployment,
)
from finlake.cost.units import CYCLE_MONTHS, REGIONS, D

__all__ = [
    "CYCLE_MONTHS",
    "REGIONS",
    "D",
    "Deployment",
    "Estimate",
    "Function",
    "GlueJob",
    "LineItem",
    "Schedule",
    "Step",
    "Usage",
    "Workflow",
    "WorkflowRuns",
    "assets_loader",
    "assumption_problems",
    "cost",
    "cron_runs_per_month",
    "estimate",
    "load_assumptions",
    "load_prices",
    "longest_success_path",
    "read_cdk_out",
    "read_deployment",
    "render_table",
    "runs_per_month",
    "shortest_success_path",
    "success_paths",
    "synthesize_deployment",
    "to_json",
]
