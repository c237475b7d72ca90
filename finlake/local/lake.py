"""The names of the embedded AWS's shared resources (buckets, databases, topic, queues, notifier).

Named as the CDK app names them by default (``functions/common/contract.py``). A leaf of `finlake.local`: the runtime,
the local Glue runner and the sample adapters read them without importing each other.
"""

from functions.common.contract import DEFAULT_NAMES

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKETS = {
    "RAW_BUCKET": "finlake-raw",
    "CURATED_BUCKET": "finlake-curated",
    "REFINED_BUCKET": "finlake-refined",
    "ATHENA_RESULTS_BUCKET": "finlake-athena-results",
}
NAMES = DEFAULT_NAMES
DATABASES = {"CURATED_DATABASE": NAMES.database("curated"), "REFINED_DATABASE": NAMES.database("refined")}
# The lake every local function and Glue job is given (functions/common/contract.py builds their wiring).
LAKE = NAMES.lake(
    {"raw": BUCKETS["RAW_BUCKET"], "curated": BUCKETS["CURATED_BUCKET"], "refined": BUCKETS["REFINED_BUCKET"]}
)
# CloudFormation names the deployed topic and queue; these are the embedded AWS's own.
TOPIC = "finlake-notifications"
DLQ = "finlake-failed-runs"
OUTBOX = "finlake-email-outbox"  # subscribed to the topic: what the emails would say
NOTIFIER = NAMES.notifier  # the platform's notifier function (readable failure emails)

__all__ = [
    "ACCOUNT",
    "BUCKETS",
    "DATABASES",
    "DLQ",
    "LAKE",
    "NAMES",
    "NOTIFIER",
    "OUTBOX",
    "REGION",
    "TOPIC",
]
