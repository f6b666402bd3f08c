"""The end-to-end demo behind ``make demo``, on a throw-away local stack.

It shows, in order: applications publishing through the producer SDK and getting decisions
(from a static stand-in until the risk processor lands), bad input refused with the field at
fault, the sealer turning every record into signed, hash-linked blocks in S3, every chain
verified from the bucket, a tampered copy caught, and Object Lock refusing every attempt to
remove or shorten a sealed object.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Producer, TopicPartition
from rich.console import Console
from rich.table import Table

from riskseal.audit.walk import verify_chain
from riskseal.block import Block, ChainId, block_key, hex_digest
from riskseal.contract import Actor, AuthContext, Endpoint, Location, Outcome, Resource
from riskseal.errors import IntegrityError, InvalidEventError
from riskseal.kafka import consume_values
from riskseal.keys import FileSigner, PublicKeys
from riskseal.s3client import s3_client_for
from riskseal.sdk import AuditClient
from riskseal.sdk.responder import StaticResponder
from riskseal.sealer.keyring import ensure_signer_listed
from riskseal.sealer.service import Sealer
from riskseal.sealer.store import MemoryBlockStore, S3BlockStore
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
            settings = endpoints.settings(seal_max_age_s=0.3, checkpoint_interval_s=1.0)
            records = _publish_and_decide(console, settings)
            store, keys, cluster_id = _seal(console, settings, Path(tmp), records)
            _verify(console, settings, store, keys, cluster_id)
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


def _publish_and_decide(console: Console, settings: Settings) -> int:
    """Publish actions and authorize requests; return how many records reached Kafka."""
    console.rule("Producer SDK: events published, decisions returned, bad input refused")
    office = Endpoint("198.51.100.7", Location(country="DE", city="Berlin", lat=52.5, lon=13.4))
    with StaticResponder(settings), AuditClient(settings) as client:
        for user in ("alice", "bob", "carol"):
            client.emit_action(
                Actor(user, roles=("sales",)), "auth.login", Resource("app", "crm"),
                Outcome.SUCCESS, src_endpoint=office, auth=AuthContext(is_mfa=True),
            )  # fmt: skip
        asks = [("alice", "q3-forecast"), ("bob", "step-payroll"), ("carol", "deny-root-keys")]
        for user, document in asks:
            decision = client.authorize(
                Actor(user), "data.read", Resource("document", document), src_endpoint=office,
                timeout=10,
            )  # fmt: skip
            console.print(
                f"[green]OK[/green] {user} reads {document}: [bold]{decision.verdict}[/bold] "
                f"({decision.disposition}{', fallback' if decision.fallback else ''})"
            )
        try:
            client.request_access("mallory", "data.read", Resource("document", "x"),
                                  src_endpoint=Endpoint("999.1.1.1"))  # fmt: skip
        except InvalidEventError as exc:
            console.print(f"[green]REFUSED[/green] before reaching Kafka: {exc}")
        failures = client.flush()
    if failures:
        raise DemoFailed(f"{len(failures)} events were not delivered")
    console.print("[green]OK[/green] every event acknowledged by the broker (acks=all)")
    return 3 + 2 * len(asks)  # actions, requests and their decisions


def _seal(
    console: Console, settings: Settings, workdir: Path, expected: int
) -> tuple[S3BlockStore, PublicKeys, str]:
    console.rule("Sealer: every record into signed, hash-linked blocks, written once to S3")
    signer = FileSigner.generate("demo-sealer")
    signer.save(workdir / "sealer.key")
    store = S3BlockStore(
        s3_client_for(settings, "writer"),
        settings.s3_bucket,
        settings.object_lock_mode,
        settings.object_lock_retention_days,
    )
    manifest = ensure_signer_listed(store, settings.s3_prefix, signer)
    console.print(f"key manifest v{manifest.version} publishes {signer.verifier.vkey()}")
    sealer = Sealer(settings, signer, manifest.public_keys(), store)
    stop = threading.Event()
    thread = threading.Thread(target=sealer.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while sealer.metrics.records < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(30)
    metrics = sealer.metrics
    if metrics.records != expected:
        raise DemoFailed(f"sealed {metrics.records} of {expected} records")
    console.print(
        f"[green]OK[/green] sealed {metrics.records} records in {metrics.blocks} blocks, "
        f"{metrics.checkpoints} signed checkpoints; offsets committed only after each PUT"
    )
    return store, manifest.public_keys(), sealer.cluster_id


def _verify(
    console: Console, settings: Settings, store: S3BlockStore, keys: PublicKeys, cluster_id: str
) -> None:
    console.rule("Verification from the bucket, then a tampered copy")
    table = Table("chain", "blocks", "records", "offsets", "chain root")
    sealed_chain = None
    for topic in settings.audit_topics:
        for partition in range(settings.topic_partitions[topic]):
            chain = ChainId(cluster_id, topic, partition)
            summary = verify_chain(store, settings.s3_prefix, chain, keys)
            if summary.blocks:
                sealed_chain = chain
                table.add_row(
                    f"{topic}/{partition}", str(summary.blocks), str(summary.records),
                    f"{summary.first_offset}..{summary.last_offset}", hex_digest(summary.root)[:23],
                )  # fmt: skip
    console.print(table)
    console.print("[green]OK[/green] every block: signature, Merkle root, links, offsets")
    if sealed_chain is None:
        raise DemoFailed("nothing was sealed")
    copy = MemoryBlockStore()
    for key in store.keys(f"{settings.s3_prefix}/blocks/"):
        data = store.get(key)
        if data is not None:
            copy.objects[key] = data
    key = block_key(settings.s3_prefix, sealed_chain, 0)
    block = Block.from_bytes(copy.objects[key])
    forged = bytearray(block.record_bytes[0])
    forged[-10] ^= 0x01  # a byte inside the record value
    copy.objects[key] = dataclasses.replace(
        block, record_bytes=(bytes(forged), *block.record_bytes[1:])
    ).to_bytes()
    try:
        verify_chain(copy, settings.s3_prefix, sealed_chain, keys)
    except IntegrityError as exc:
        console.print(f"[green]CAUGHT[/green] one flipped bit in a local copy: {exc}")
    else:
        raise DemoFailed("a tampered block verified")


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
