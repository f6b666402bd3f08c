"""The end-to-end demo behind ``make demo``, on a throw-away local stack.

Today it shows the foundation: a real Kafka-protocol broker that carries events and an S3
bucket whose Object Lock refuses every attempt to remove or shorten a sealed object. Later
parts (SDK traffic, decisions, sealing, verification) add their steps here.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Producer, TopicPartition
from rich.console import Console

from riskseal.kafka import consume_values
from riskseal.s3client import s3_client_for
from riskseal.settings import Settings
from riskseal.stack.local import LocalStack, StackEndpoints
from riskseal.stack.ports import find_free_ports
from riskseal.stack.provision import ensure_topics

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEMO_TOPIC = "demo.events"


class DemoFailed(AssertionError):
    """A step of the demo did not behave as the product promises."""


def run_demo(console: Console, base_settings: Settings) -> None:
    """Start a stack in a temporary directory on free ports, show each guarantee, stop it."""
    with tempfile.TemporaryDirectory(prefix="riskseal-demo-") as tmp:
        settings = base_settings.model_copy(update={"data_dir": Path(tmp), "profile": "local"})
        stack = LocalStack(settings, ports=find_free_ports(settings.stack_host))
        console.rule("[bold]riskseal demo")
        console.print(f"starting the local real stack in {tmp} …")
        started = time.monotonic()
        endpoints = stack.up()
        try:
            console.print(
                f"[green]OK[/green] broker {endpoints.kafka_bootstrap} "
                f"(cluster {endpoints.kafka_cluster_id}), S3 {endpoints.s3_endpoint}, "
                f"up in {time.monotonic() - started:.1f} s"
            )
            _kafka_round_trip(console, endpoints)
            _object_lock(console, endpoints, stack.admin_s3_client())
        finally:
            stopped = stack.down(wipe=True)
            console.print(f"stopped {', '.join(stopped)}; removed {tmp}")
        console.rule("[bold green]demo finished")


def _kafka_round_trip(console: Console, endpoints: StackEndpoints) -> None:
    console.rule("Kafka: a topic created explicitly, events written and read back")
    ensure_topics(endpoints.kafka_bootstrap, {DEMO_TOPIC: 3}, replication_factor=1)
    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap, "acks": "all"})
    sent = [f"event {i} {uuid.uuid4()}".encode() for i in range(6)]
    for i, value in enumerate(sent):
        producer.produce(DEMO_TOPIC, value=value, partition=i % 3)
    if producer.flush(10) != 0:
        raise DemoFailed("the broker did not acknowledge every event")
    consumer = Consumer(
        {"bootstrap.servers": endpoints.kafka_bootstrap, "group.id": f"demo-{uuid.uuid4()}",
         "enable.auto.commit": False}
    )  # fmt: skip
    consumer.assign([TopicPartition(DEMO_TOPIC, p, 0) for p in range(3)])
    received = consume_values(consumer, lambda values: len(values) >= len(sent), timeout_s=20)
    consumer.close()
    if sorted(received) != sorted(sent):
        raise DemoFailed(f"read back {len(received)} of {len(sent)} events")
    console.print(f"[green]OK[/green] {len(sent)} events on {DEMO_TOPIC} (3 partitions) read back")


def _object_lock(console: Console, endpoints: StackEndpoints, admin: S3Client) -> None:
    console.rule("S3 Object Lock: a sealed object cannot be removed, overwritten or shortened")
    settings = endpoints.settings()
    sealer = s3_client_for(settings, "writer")
    auditor = s3_client_for(settings, "reader")
    bucket, key = endpoints.s3_bucket, f"{endpoints.s3_prefix}/demo/sealed-object"
    body = b"an audit block would go here\n"
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    retain_until = datetime.now(UTC) + timedelta(days=settings.object_lock_retention_days)
    put = sealer.put_object(
        Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ChecksumSHA256=checksum,
        ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=retain_until,
    )  # fmt: skip
    version = put["VersionId"]
    head = auditor.head_object(Bucket=bucket, Key=key, VersionId=version)
    console.print(
        f"[green]OK[/green] sealer wrote s3://{bucket}/{key} version {version}: "
        f"{head.get('ObjectLockMode')} until {head.get('ObjectLockRetainUntilDate')}"
    )
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("sealer deletes the locked version",
         lambda: sealer.delete_object(Bucket=bucket, Key=key, VersionId=version)),
        ("admin deletes it, bypassing governance",
         lambda: admin.delete_object(
             Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)),
        ("admin shortens its retention",
         lambda: admin.put_object_retention(
             Bucket=bucket, Key=key, VersionId=version,
             Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC)})),
        ("sealer overwrites it (If-None-Match: *)",
         lambda: sealer.put_object(Bucket=bucket, Key=key, Body=b"forged", IfNoneMatch="*")),
        ("sealer writes with a wrong SHA-256",
         lambda: sealer.put_object(
             Bucket=bucket, Key=key + "-2", Body=b"forged", ChecksumSHA256=checksum)),
        ("auditor (read-only) writes",
         lambda: auditor.put_object(Bucket=bucket, Key=key + "-3", Body=b"forged")),
    ]  # fmt: skip
    for description, attempt in attempts:
        try:
            attempt()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            console.print(f"[green]REFUSED[/green] {description}: {code}")
        else:
            raise DemoFailed(f"S3 accepted: {description}")
    versions = admin.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    if [v.get("VersionId") for v in versions if v.get("Key") == key] != [version]:
        raise DemoFailed(f"{key} no longer has exactly its one sealed version")
    console.print(f"[green]OK[/green] {key} still has exactly one version, unchanged")
