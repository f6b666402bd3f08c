"""Faults: the sealer killed at random moments, and S3 gone for 30 s mid-stream."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from riskseal.block import ChainId
from riskseal.s3client import s3_client_for
from riskseal.sealer.chain import find_head_seq, recover_head
from riskseal.sealer.keyring import ensure_signer_listed
from riskseal.sealer.store import S3BlockStore
from riskseal.stack.provision import ensure_topics, kafka_cluster_id
from tests.integration.conftest import start_local_stack, stop_and_check
from tests.integration.sealer.conftest import SealingWorld
from tests.integration.sealer.test_sealing import assert_sealed_exactly_once, wait_for


def _sealed_count(world: SealingWorld, cluster_id: str) -> int:
    """Records sealed so far, read from the chain heads in the bucket."""
    manifest = ensure_signer_listed(world.store, world.settings.s3_prefix, world.signer)
    total = 0
    for topic in world.settings.audit_topics:
        for partition in range(world.settings.topic_partitions[topic]):
            chain = ChainId(cluster_id, topic, partition)
            if find_head_seq(world.store, world.settings.s3_prefix, chain) is None:
                continue
            head = recover_head(
                world.store, world.settings.s3_prefix, chain, manifest.public_keys()
            )
            total += head.next_offset or 0
    return total


def _start_sealer(world: SealingWorld, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **world.settings.to_env()}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "riskseal", "seal"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    world: SealingWorld, tmp_path: Path
) -> None:
    rng = random.Random(20261123)
    # A killed member stays in the group until its session times out; a short session lets
    # the restarted sealer rejoin quickly, so the kills land while it is sealing.
    world.settings = world.settings.model_copy(
        update={"kafka_session_timeout_ms": 3_000, "kafka_heartbeat_interval_ms": 500}
    )
    cluster_id = kafka_cluster_id(world.settings.kafka_bootstrap)
    produced: set[str] = set()
    log = tmp_path / "sealer.log"
    sealed_after_kill = []
    for _ in range(10):
        produced |= world.produce(150)  # new traffic before every start: kills hit real work
        sealer = _start_sealer(world, log)
        time.sleep(rng.uniform(2.0, 7.0))
        os.killpg(sealer.pid, signal.SIGKILL)
        sealer.wait(10)
        sealed_after_kill.append(_sealed_count(world, cluster_id))
    progress = [b - a for a, b in zip([0, *sealed_after_kill], sealed_after_kill, strict=False)]
    assert sum(1 for step in progress if step > 0) >= 3, (
        f"too few kills hit a working sealer: {progress}"
    )
    started = log.read_text().count("OK: sealing")
    sealer = _start_sealer(world, log)
    try:
        # SIGTERM is handled once the sealer runs; before that it would simply kill it.
        wait_for(lambda: log.read_text().count("OK: sealing") > started, 60)
        wait_for(lambda: _sealed_count(world, cluster_id) >= len(produced), 120)
    finally:
        os.killpg(sealer.pid, signal.SIGTERM)
        assert sealer.wait(60) == 0, log.read_text()[-2000:]
    assert assert_sealed_exactly_once(world, cluster_id, produced) == len(produced)


def test_s3_outage_of_30_seconds_loses_nothing(tmp_path: Path) -> None:
    stack = start_local_stack(tmp_path / "stack")
    try:
        endpoints = stack.up()
        settings = endpoints.settings(
            seal_max_records=300, seal_max_age_s=0.3, checkpoint_interval_s=1.0, s3_retry_max_s=2.0
        )
        ensure_topics(settings.kafka_bootstrap, settings.topic_partitions, 1)
        from riskseal.keys import FileSigner

        signer = FileSigner.generate("outage")
        key_file = tmp_path / "sealer.key"
        signer.save(key_file)
        store = S3BlockStore(s3_client_for(settings, "writer"), settings.s3_bucket, "COMPLIANCE", 1)
        world = SealingWorld(
            settings.model_copy(update={"signing_key_file": key_file}), signer, key_file, store
        )
        produced = world.produce(500)
        sealer = world.sealer()
        with world.running(sealer):
            wait_for(lambda: sealer.metrics.records >= len(produced), 60)
            stack.stop_s3()
            outage_started = time.monotonic()
            more: set[str] = set()
            producer = threading.Thread(target=lambda: more.update(world.produce(800)))
            producer.start()
            producer.join(60)
            time.sleep(max(0.0, 30 - (time.monotonic() - outage_started)))
            errors_during_outage = sealer.metrics.s3_errors
            stack.start_s3()
            wait_for(lambda: sealer.metrics.records >= len(produced) + len(more), 120)
        assert errors_during_outage > 0, "the sealer never noticed the outage"
        assert assert_sealed_exactly_once(world, sealer.cluster_id, produced | more) == len(
            produced | more
        )
    finally:
        stop_and_check(stack)
