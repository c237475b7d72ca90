"""The names of the embedded AWS's shared resources (buckets, databases, topic, queues, notifier), as the
CDK app names them by default. A leaf of `finlake.local`: the runtime, the local Glue runner and the
sample adapters read them without importing each other.
"""

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKETS = {
    "RAW_BUCKET": "finlake-raw",
    "CURATED_BUCKET": "finlake-curated",
    "REFINED_BUCKET": "finlake-refined",
    "ATHENA_RESULTS_BUCKET": "finlake-athena-results",
}
DATABASES = {"CURATED_DATABASE": "finlake_curated", "REFINED_DATABASE": "finlake_refined"}
TOPIC = "finlake-notifications"
DLQ = "finlake-failed-runs"
OUTBOX = "finlake-email-outbox"  # subscribed to the topic: what the emails would say
NOTIFIER = "finlake-notify"  # the platform's notifier function (readable failure emails)
NOTIFY_HANDLER = "functions.notifier.handlers.handler"

__all__ = ["ACCOUNT", "BUCKETS", "DATABASES", "DLQ", "NOTIFIER", "NOTIFY_HANDLER", "OUTBOX", "REGION", "TOPIC"]
