"""Access to the lake for handlers: settings from the environment and small S3 helpers.

Handlers receive a `Lake` (built from environment variables set by the stack, or by the local
runtime); tests hand in one pointing at moto. Nothing here holds business logic.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import boto3


def s3_uri(bucket: str, key: str) -> str:
    """``s3://<bucket>/<key>``."""
    return f"s3://{bucket}/{key}"


def split_uri(uri: str) -> tuple[str, str]:
    """``"s3://bucket/a/b"`` -> ``("bucket", "a/b")``.

    Raises
    ------
    ValueError
        When ``uri`` does not start with ``s3://``.
    """
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def client(service: str, region: str | None = None) -> Any:
    """The process's boto3 client for ``service`` in ``region`` (default: ``AWS_REGION``, else ``AWS_DEFAULT_REGION``).

    Made once per (service, region) and reused: by a Lambda across its warm invocations, as AWS advises, and by a
    local run across its steps. Making one costs milliseconds of CPU, and the first in a boto3 session reads the
    service's model from disk. boto3 clients are thread-safe.
    """
    return _client(service, _region(region))


@functools.cache
def _client(service: str, region: str | None) -> Any:
    return _session(region).client(service)


def session(region: str | None = None) -> boto3.Session:
    """The process's boto3 session for ``region`` (default as `client`), made once: its clients share one loader.

    Pass it to awswrangler (``boto3_session=``): without one, awswrangler uses boto3's default session, and makes a
    new session for every call when there is none (reading the service's model from disk again, about 0.1 s).
    """
    return _session(_region(region))


def _region(region: str | None) -> str | None:
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


@functools.cache
def _session(region: str | None) -> boto3.Session:
    return boto3.Session(region_name=region)


def md5_hex(data: bytes) -> str:
    """The MD5 of ``data`` as 32 hex digits (a content fingerprint, not a security measure)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Lake:
    """The lake's three buckets and two Glue databases, with the few S3 operations the steps need.

    Every method takes ``s3://`` URIs and goes through the default boto3 S3 client (moto in tests,
    the embedded AWS locally); boto3's ``ClientError`` propagates.
    """

    raw_bucket: str
    curated_bucket: str
    refined_bucket: str
    curated_database: str = "finlake_curated"
    refined_database: str = "finlake_refined"

    @classmethod
    def from_env(cls) -> Lake:
        """The lake named by the environment the stack sets.

        ``RAW_BUCKET``, ``CURATED_BUCKET`` and ``REFINED_BUCKET`` are required (KeyError without them);
        ``CURATED_DATABASE``/``REFINED_DATABASE`` default to finlake_curated/finlake_refined.
        """
        return cls(
            raw_bucket=os.environ["RAW_BUCKET"],
            curated_bucket=os.environ["CURATED_BUCKET"],
            refined_bucket=os.environ["REFINED_BUCKET"],
            curated_database=os.environ.get("CURATED_DATABASE", "finlake_curated"),
            refined_database=os.environ.get("REFINED_DATABASE", "finlake_refined"),
        )

    @property
    def s3(self) -> Any:
        """The process's boto3 S3 client (`client`)."""
        return client("s3")

    def get(self, uri: str) -> bytes:
        """The bytes of the object at ``uri``."""
        bucket, key = split_uri(uri)
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def put(self, uri: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        """Write ``data`` at ``uri`` with optional user metadata (``x-amz-meta-*``), replacing any object there."""
        bucket, key = split_uri(uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata or {})

    def state_uri(self, domain: str, name: str) -> str:
        """A domain's small state file (what was ingested, columns seen) in the curated bucket."""
        return s3_uri(self.curated_bucket, f"_state/{domain}/{name}")

    def read_state(self, domain: str, name: str) -> dict[str, Any]:
        """A domain's state file as a dict; ``{}`` when it does not exist yet."""
        uri = self.state_uri(domain, name)
        return dict(json.loads(self.get(uri))) if self.exists(uri) else {}

    def write_state(self, domain: str, name: str, data: dict[str, Any]) -> None:
        """Write a domain's state file as indented, key-sorted JSON."""
        self.put(self.state_uri(domain, name), json.dumps(data, indent=1, sort_keys=True).encode())

    def copy(self, source_uri: str, target_uri: str) -> None:
        """Server-side copy (a rejected raw file is copied to quarantine; the raw object stays)."""
        bucket, key = split_uri(source_uri)
        target_bucket, target_key = split_uri(target_uri)
        self.s3.copy_object(Bucket=target_bucket, Key=target_key, CopySource={"Bucket": bucket, "Key": key})

    def exists(self, uri: str) -> bool:
        """True when an object with exactly the key of ``uri`` exists."""
        bucket, key = split_uri(uri)
        found = self.s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        return any(obj["Key"] == key for obj in found)

    def list_uris(self, prefix_uri: str) -> list[str]:
        """The URIs of every object under ``prefix_uri`` (all pages of ListObjectsV2)."""
        bucket, prefix = split_uri(prefix_uri)
        paginator = self.s3.get_paginator("list_objects_v2")
        return [
            s3_uri(bucket, obj["Key"])
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]

    def delete(self, uris: list[str]) -> None:
        """Delete each object of ``uris``, one request per object."""
        for uri in uris:
            bucket, key = split_uri(uri)
            self.s3.delete_object(Bucket=bucket, Key=key)
