"""A running sealer's view of the key manifest: read again in time for a cut-over, never
used to sign once too old, and read once however many writer threads ask."""

from __future__ import annotations

import logging

import pytest

from riskseal.errors import StorageUnavailableError
from riskseal.keys import FileSigner
from riskseal.manifest import KeyManifest, first_manifest, manifest_key, rotated
from riskseal.sealer import keyring
from riskseal.sealer.manifest_watch import RETRY_AFTER_FAILURE_S, ManifestWatch
from riskseal.sealer.store import MemoryBlockStore
from riskseal.timestamps import iso_text

NOW_MS = 1_790_000_000_000
CUT_OVER_MS = NOW_MS + 600_000
MAX_AGE_S = keyring.MANIFEST_MAX_AGE_S


class CountingStore(MemoryBlockStore):
    """Counts reads; ``down`` makes every read fail as S3 would."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.down = False

    def get(self, key: str) -> bytes | None:
        self.reads += 1
        if self.down:
            raise StorageUnavailableError("GET timed out")
        return super().get(key)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.seconds = 1_000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def old() -> FileSigner:
    return FileSigner.generate("old")


@pytest.fixture
def new() -> FileSigner:
    return FileSigner.generate("new")


@pytest.fixture
def store(old: FileSigner) -> CountingStore:
    store = CountingStore()
    store.create(manifest_key("p", 0), first_manifest(old, NOW_MS - 60_000).sign([old]))
    return store


def watching(store: CountingStore, old: FileSigner, clock: Clock) -> ManifestWatch:
    return ManifestWatch(store, "p", first_manifest(old, NOW_MS - 60_000), old.key_id, clock)


def publish_cut_over(store: CountingStore, old: FileSigner, new: FileSigner) -> KeyManifest:
    turned = rotated(first_manifest(old, NOW_MS - 60_000), old, new, NOW_MS, CUT_OVER_MS)
    store.create(manifest_key("p", 1), turned.sign([old, new]))
    return turned


def test_a_fresh_manifest_answers_without_a_read(
    store: CountingStore, old: FileSigner, new: FileSigner
) -> None:
    clock = Clock()
    watch = watching(store, old, clock)
    publish_cut_over(store, old, new)
    clock.seconds += MAX_AGE_S / 2 - 1
    assert watch.may_sign(old.key_id, CUT_OVER_MS)  # not read yet: the cut-over is unknown
    assert store.reads == 0


def test_a_manifest_half_its_age_limit_old_is_read_before_signing(
    store: CountingStore, old: FileSigner, new: FileSigner
) -> None:
    clock = Clock()
    watch = watching(store, old, clock)
    turned = publish_cut_over(store, old, new)
    clock.seconds += MAX_AGE_S / 2
    assert not watch.may_sign(old.key_id, CUT_OVER_MS)
    assert watch.may_sign(old.key_id, CUT_OVER_MS - 1)
    assert watch.manifest == turned
    reads = store.reads
    assert watch.may_sign(new.key_id, CUT_OVER_MS)
    assert store.reads == reads  # read once, then fresh again


def test_nothing_is_signed_with_a_manifest_too_old_that_cannot_be_read(
    store: CountingStore, old: FileSigner
) -> None:
    clock = Clock()
    watch = watching(store, old, clock)
    store.down = True
    clock.seconds += MAX_AGE_S / 2
    assert watch.may_sign(old.key_id, NOW_MS)  # the read failed, but it is not too old yet
    clock.seconds += MAX_AGE_S / 2
    with pytest.raises(StorageUnavailableError, match="last read 30 s ago and cannot be read"):
        watch.may_sign(old.key_id, NOW_MS)
    store.down = False
    clock.seconds += RETRY_AFTER_FAILURE_S
    assert watch.may_sign(old.key_id, NOW_MS)  # read again: signing resumes
    assert watch.age_s() == 0


def test_a_failed_read_is_retried_after_a_pause_not_at_every_signature(
    store: CountingStore, old: FileSigner
) -> None:
    clock = Clock()
    watch = watching(store, old, clock)
    store.down = True
    clock.seconds += MAX_AGE_S / 2
    watch.may_sign(old.key_id, NOW_MS)
    failed = store.reads
    assert failed == 1
    for _ in range(5):
        watch.may_sign(old.key_id, NOW_MS)
    assert store.reads == failed
    clock.seconds += RETRY_AFTER_FAILURE_S
    watch.may_sign(old.key_id, NOW_MS)
    assert store.reads == failed + 1


def test_a_refresh_is_skipped_when_another_thread_read_meanwhile(
    store: CountingStore, old: FileSigner
) -> None:
    clock = Clock()
    watch = watching(store, old, clock)
    clock.seconds += 20
    watch.refresh(older_than_s=10)
    reads = store.reads
    assert reads > 0
    watch.refresh(older_than_s=10)
    assert store.reads == reads


def test_the_cut_over_is_due_a_lead_before_it_by_the_latest_date_a_block_could_take(
    store: CountingStore, old: FileSigner, new: FileSigner, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    watch = watching(store, old, clock)
    publish_cut_over(store, old, new)
    with caplog.at_level(logging.WARNING):
        watch.refresh()
        watch.refresh()
    announced = [r.getMessage() for r in caplog.records if "retires at" in r.getMessage()]
    assert announced == [
        f"signing key {old.key_id} retires at {iso_text(CUT_OVER_MS)} (key manifest "
        f"version 1): this sealer stops {keyring.RETIREMENT_LEAD_S:.0f} s before; start the "
        "sealers with the key that took over before then"
    ]
    lead_ms = int(keyring.RETIREMENT_LEAD_S * 1000)
    assert watch.due_cut_over(CUT_OVER_MS - lead_ms - 1) is None
    assert watch.due_cut_over(CUT_OVER_MS - lead_ms) == CUT_OVER_MS
