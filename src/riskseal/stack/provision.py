"""Readiness checks and provisioning: the audit bucket with Object Lock and the topics."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from riskseal.errors import ProvisioningError, ReadinessTimeoutError, ServerExitedError
from riskseal.stack.process import ServerProcess, pid_is_alive

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from riskseal.settings import Settings

POLL_INTERVAL_S = 0.1


def wait_until_ready(
    server: ServerProcess,
    pid: int,
    port: int,
    probe: Callable[[], bool],
    timeout_s: float,
) -> None:
    """Poll ``probe`` until it answers True; fail fast if the server process exits."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not pid_is_alive(pid):
            raise ServerExitedError(
                f"{server.name} (port {port}) exited while starting; last lines of "
                f"{server.log_file}:\n{server.log_tail()}"
            )
        if probe():
            return
        if time.monotonic() >= deadline:
            raise ReadinessTimeoutError(
                f"{server.name} did not answer on port {port} within {timeout_s:.0f} s; "
                f"last lines of {server.log_file}:\n{server.log_tail()}"
            )
        time.sleep(POLL_INTERVAL_S)


def tcp_accepts(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def s3_answers(client: S3Client) -> Callable[[], bool]:
    """A probe that is True once S3 ListBuckets answers."""

    def probe() -> bool:
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    return probe


def s3_serves_stored_data(client: S3Client, bucket: str) -> Callable[[], bool]:
    """A probe that is True once S3 can read back what it stored before a restart.

    SeaweedFS answers ListBuckets (and lists objects) before its volumes are loaded; a GET
    in that window fails with InternalError. The probe reads the bucket's first stored
    version; an empty or missing bucket has nothing to wait for.
    """

    def probe() -> bool:
        try:
            listed = client.list_object_versions(Bucket=bucket, MaxKeys=1)
        except ClientError as exc:
            return exc.response.get("Error", {}).get("Code") == "NoSuchBucket"
        except BotoCoreError:
            return False
        versions = listed.get("Versions", [])
        if not versions:
            return True
        first = versions[0]
        try:
            client.get_object(Bucket=bucket, Key=first["Key"], VersionId=first["VersionId"])
        except (BotoCoreError, ClientError):
            return False
        return True

    return probe


def kafka_answers(host: str, port: int) -> Callable[[], bool]:
    """A probe that is True once the broker accepts connections and answers Metadata."""

    def probe() -> bool:
        # Connect first: librdkafka would log every refused connection to stderr.
        if not tcp_accepts(host, port):
            return False
        try:
            kafka_cluster_id(f"{host}:{port}", timeout_s=2.0)
        except KafkaException:
            return False
        return True

    return probe


def kafka_cluster_id(bootstrap: str, timeout_s: float = 10.0, **config: str | int) -> str:
    """The cluster id the broker reports in its Metadata."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **config})
    metadata = admin.list_topics(timeout=timeout_s)
    return str(metadata.cluster_id)


def ensure_audit_bucket(admin: S3Client, bucket: str, mode: str, retention_days: int) -> None:
    """Create ``bucket`` with versioning and Object Lock, with a default retention rule.

    An existing bucket is accepted only when Object Lock is enabled on it: Object Lock cannot
    be switched on later on SeaweedFS, and a merely versioned bucket does not enforce it.
    """
    try:
        existing = {entry["Name"] for entry in admin.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            admin.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        else:
            _require_object_lock(admin, bucket)
        admin.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": mode, "Days": retention_days}},  # type: ignore[typeddict-item]
            },
        )
        versioning = admin.get_bucket_versioning(Bucket=bucket).get("Status")
    except (BotoCoreError, ClientError) as exc:
        raise ProvisioningError(f"cannot set up audit bucket {bucket}: {exc}") from exc
    if versioning != "Enabled":
        raise ProvisioningError(
            f"audit bucket {bucket} has versioning {versioning!r} after enabling Object Lock"
        )


def _require_object_lock(admin: S3Client, bucket: str) -> None:
    try:
        config = admin.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        raise ProvisioningError(
            f"bucket {bucket} exists without Object Lock ({exc}); choose another bucket "
            "name (RISKSEAL_S3_BUCKET) or wipe the stack (`riskseal stack down --wipe`)"
        ) from exc
    if config.get("ObjectLockEnabled") != "Enabled":
        raise ProvisioningError(
            f"bucket {bucket} exists without Object Lock; choose another bucket name "
            "(RISKSEAL_S3_BUCKET) or wipe the stack (`riskseal stack down --wipe`)"
        )


def ensure_plain_bucket(admin: S3Client, bucket: str) -> None:
    """Create an ordinary bucket (the broker's own storage) unless it exists."""
    try:
        existing = {entry["Name"] for entry in admin.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            admin.create_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        raise ProvisioningError(f"cannot create bucket {bucket}: {exc}") from exc


def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    replication_factor: int,
    timeout_s: float = 30.0,
    **config: str | int,
) -> None:
    """Create every topic with its partition count; existing topics must match it.

    Topics are created explicitly because a broker auto-creates unknown topics with its own
    default partition count, which would break co-partitioning by user.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, **config})
    wanted = [NewTopic(name, count, replication_factor) for name, count in partitions.items()]
    futures = admin.create_topics(wanted, request_timeout=timeout_s)
    unanswered = (
        f"no Kafka broker answered at {bootstrap} within {timeout_s:g} s: start it, or fix "
        "RISKSEAL_KAFKA_BOOTSTRAP (and the RISKSEAL_KAFKA_SECURITY_* settings)"
    )
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except TimeoutError as exc:
            raise ProvisioningError(unanswered) from exc
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise ProvisioningError(f"cannot create topic {name}: {error}") from exc
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ProvisioningError(f"{unanswered} ({exc.args[0]})") from exc
    for name, count in partitions.items():
        topic = metadata.topics.get(name)
        actual = len(topic.partitions) if topic is not None else 0
        if actual != count:
            raise ProvisioningError(
                f"topic {name} has {actual} partitions, settings want {count}; "
                "delete it or change the partition setting"
            )


def ensure_settings_topics(settings: Settings, partitions: Mapping[str, int]) -> None:
    """:func:`ensure_topics` on the settings' cluster, with its security configuration."""
    security: dict[str, Any] = {
        name: value
        for name, value in settings.kafka_config().items()
        if name != "bootstrap.servers" and isinstance(value, str | int)
    }
    ensure_topics(
        settings.kafka_bootstrap, partitions, settings.kafka_replication_factor, **security
    )
