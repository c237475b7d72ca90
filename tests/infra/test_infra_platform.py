"""The shared platform stack: storage, catalog, Athena, alerts and the dead-letter queue."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.slow

PLATFORM = "FinlakePlatform"
KMS_ZONES = ("Raw", "Curated", "Refined", "AthenaResults")


def _key_id(s) -> str:
    (key_id,) = s.resources(PLATFORM, "AWS::KMS::Key")
    return key_id


def _buckets(s) -> dict[str, dict]:
    """Buckets by zone construct id, e.g. "Raw" for StorageRawXXXX."""
    found = {}
    for logical_id, bucket in s.resources(PLATFORM, "AWS::S3::Bucket").items():
        zone = next(z for z in (*KMS_ZONES, "AccessLogs") if logical_id.startswith(f"Storage{z}"))
        found[zone] = bucket
    return found


def test_one_customer_managed_key_with_rotation_retained(synthesized) -> None:
    keys = synthesized.resources(PLATFORM, "AWS::KMS::Key")
    assert len(keys) == 1
    (key,) = keys.values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"


def test_zone_buckets_are_kms_encrypted_with_the_key_and_bucket_keys(synthesized) -> None:
    buckets = _buckets(synthesized)
    assert set(buckets) == {*KMS_ZONES, "AccessLogs"}
    for zone in KMS_ZONES:
        (rule,) = buckets[zone]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [_key_id(synthesized), "Arn"]}
        assert rule["BucketKeyEnabled"] is True
    # S3 server access logging cannot deliver to an SSE-KMS bucket.
    (rule,) = buckets["AccessLogs"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_every_bucket_is_versioned_private_retained_and_logged(synthesized) -> None:
    buckets = _buckets(synthesized)
    logs_id = next(k for k in synthesized.resources(PLATFORM, "AWS::S3::Bucket") if k.startswith("StorageAccessLogs"))
    for zone, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, zone
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, zone
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate", zone
        assert bucket["UpdateReplacePolicy"] == "Retain", zone
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 90 for r in rules), zone
        if zone != "AccessLogs":
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
            assert (
                props["LoggingConfiguration"]["LogFilePrefix"]
                == f"{zone.lower().replace('athenaresults', 'athena-results')}/"
            )


def test_raw_zone_moves_to_cheaper_storage_classes(synthesized) -> None:
    rules = _buckets(synthesized)["Raw"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (tiering,) = [r for r in rules if r["Id"] == "tier-raw"]
    assert tiering["Transitions"] == [
        {"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30},
        {"StorageClass": "GLACIER_IR", "TransitionInDays": 365},
    ]


def test_every_bucket_policy_denies_plain_http(synthesized) -> None:
    policies = synthesized.resources(PLATFORM, "AWS::S3::BucketPolicy")
    assert len(policies) == 5
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_glue_databases_and_security_configuration(synthesized) -> None:
    template = synthesized.template(PLATFORM)
    names = {
        d["Properties"]["DatabaseInput"]["Name"]
        for d in synthesized.resources(PLATFORM, "AWS::Glue::Database").values()
    }
    assert names == {"finlake_curated", "finlake_refined"}
    template.resource_count_is("AWS::Glue::Crawler", 0)
    key_arn = {"Fn::GetAtt": [_key_id(synthesized), "Arn"]}
    template.has_resource_properties(
        "AWS::Glue::SecurityConfiguration",
        {
            "Name": "finlake",
            "EncryptionConfiguration": {
                "S3Encryptions": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn}],
                "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn},
                "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key_arn},
            },
        },
    )


def _workgroup(s) -> dict:
    (workgroup,) = s.resources(PLATFORM, "AWS::Athena::WorkGroup").values()
    props: dict = workgroup["Properties"]
    return props


def test_athena_workgroup_is_enforced_kms_encrypted_and_capped(synthesized, cdk_context) -> None:
    props = _workgroup(synthesized)
    assert props["Name"] == "finlake"
    config = props["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == cdk_context["athena_bytes_scanned_cutoff"] == 10 * 1024**3
    encryption = config["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption == {"EncryptionOption": "SSE_KMS", "KmsKey": {"Fn::GetAtt": [_key_id(synthesized), "Arn"]}}
    results_id = next(
        k for k in synthesized.resources(PLATFORM, "AWS::S3::Bucket") if k.startswith("StorageAthenaResults")
    )
    assert config["ResultConfiguration"]["OutputLocation"] == {
        "Fn::Join": ["", ["s3://", {"Ref": results_id}, "/results/"]]
    }


def test_athena_cutoff_comes_from_context(variant) -> None:
    assert _workgroup(variant)["WorkGroupConfiguration"]["BytesScannedCutoffPerQuery"] == 1073741824


def _emails(s) -> set[str]:
    subs = s.resources(PLATFORM, "AWS::SNS::Subscription").values()
    assert all(sub["Properties"]["Protocol"] == "email" for sub in subs)
    return {sub["Properties"]["Endpoint"] for sub in subs}


def test_topic_is_kms_encrypted_tls_only_with_subscriptions_from_context(synthesized, variant, cdk_context) -> None:
    template = synthesized.template(PLATFORM)
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [_key_id(synthesized), "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    assert _emails(synthesized) == set(cdk_context["notification_emails"])
    assert _emails(variant) == {"ops@example.com", "analyst@example.com"}


def test_dead_letter_queue_keeps_14_days_encrypted_tls_only(synthesized) -> None:
    template = synthesized.template(PLATFORM)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"MessageRetentionPeriod": 14 * 24 * 3600, "KmsMasterKeyId": {"Fn::GetAtt": [_key_id(synthesized), "Arn"]}},
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_dead_letter_queue_alarm_notifies_the_topic_under_a_readable_name(synthesized) -> None:
    (topic_id,) = synthesized.resources(PLATFORM, "AWS::SNS::Topic")
    (queue_id,) = synthesized.resources(PLATFORM, "AWS::SQS::Queue")
    synthesized.template(PLATFORM).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "finlake dead-letter queue holds failed runs",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


def test_a_monthly_budget_alerts_the_topic_at_80_and_100_percent(synthesized) -> None:
    [budget] = synthesized.resources(PLATFORM, "AWS::Budgets::Budget").values()
    props = budget["Properties"]
    # Budgets are global to an account: the region in the name lets two regions deploy side by side.
    assert props["Budget"]["BudgetName"] == {"Fn::Join": ["", ["finlake-monthly-", {"Ref": "AWS::Region"}]]}
    # AWS Budgets checks it may publish when the notification is created: the topic policy comes first.
    (policy_id,) = synthesized.resources(PLATFORM, "AWS::SNS::TopicPolicy")
    assert policy_id in budget["DependsOn"]
    assert props["Budget"]["TimeUnit"] == "MONTHLY"
    assert props["Budget"]["BudgetLimit"]["Amount"] == 50
    notifications = props["NotificationsWithSubscribers"]
    assert sorted(n["Notification"]["Threshold"] for n in notifications) == [80, 100]
    assert all(n["Subscribers"][0]["SubscriptionType"] == "SNS" for n in notifications)


def test_the_raw_bucket_sends_events_to_eventbridge(synthesized) -> None:
    notifications = synthesized.resources(PLATFORM, "Custom::S3BucketNotifications")
    assert any(
        n["Properties"]["NotificationConfiguration"].get("EventBridgeConfiguration") == {}
        for n in notifications.values()
    )
