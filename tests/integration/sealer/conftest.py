"""Sealer tests run on fresh topics, a fresh key prefix and a fresh consumer group each."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskseal.contract import Outcome, Resource
from riskseal.keys import FileSigner
from riskseal.s3client import s3_client_for
from riskseal.sdk import AuditClient
from riskseal.sealer.keyring import ensure_signer_listed
from riskseal.sealer.service import Sealer
from riskseal.sealer.store import S3BlockStore
from riskseal.settings import Settings
from riskseal.stack.provision import ensure_settings_topics
from tests.integration.conftest import RealStack, on_fresh_topics


@dataclass
class SealingWorld:
    """Isolated settings, a signing key on disk, and the store."""

    settings: Settings
    signer: FileSigner
    key_file: Path
    store: S3BlockStore

    def produce(self, count: int) -> set[str]:
        """Publish ``count`` requests and ``count`` actions; return their event ids."""
        ids = set()
        with AuditClient(self.settings) as client:
            for i in range(count):
                user = f"user-{i % 13}"
                ids.add(client.request_access(user, "data.read", Resource("doc", str(i))).event_id)
                ids.add(
                    client.emit_action(
                        user, "data.read", Resource("doc", str(i)), Outcome.SUCCESS
                    ).event_id
                )
            assert client.flush() == []
        return ids

    def sealer(self) -> Sealer:
        """A sealer for this world (not running)."""
        manifest = ensure_signer_listed(self.store, self.settings.s3_prefix, self.signer)
        return Sealer(self.settings, self.signer, manifest, self.store)

    @contextmanager
    def running(self, sealer: Sealer) -> Iterator[Sealer]:
        """Run ``sealer`` on a thread for the duration of the block."""
        stop = threading.Event()
        thread = threading.Thread(target=sealer.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield sealer
        finally:
            stop.set()
            thread.join(60)
            assert not thread.is_alive(), "sealer did not stop"


@pytest.fixture
def world(real_stack: RealStack, tmp_path: Path) -> SealingWorld:
    """Fresh topics, prefix and group on the session stack, and a new signing key."""
    tag = uuid.uuid4().hex[:10]
    settings = on_fresh_topics(
        real_stack.settings,
        f"t{tag}",
        partitions_access=3,
        partitions_decisions=2,
        s3_prefix=f"tests/{tag}",
        sealer_group_id=f"sealer-{tag}",
        seal_max_records=500,
        seal_max_age_s=0.3,
        checkpoint_interval_s=0.5,
    )
    ensure_settings_topics(settings, settings.topic_partitions)
    signer = FileSigner.generate(f"test-{tag}")
    key_file = tmp_path / "sealer.key"
    signer.save(key_file)
    store = S3BlockStore(
        s3_client_for(settings, "writer"),
        settings.s3_bucket,
        settings.object_lock_mode,
        settings.object_lock_retention_days,
    )
    return SealingWorld(
        settings.model_copy(update={"signing_key_file": key_file}), signer, key_file, store
    )
