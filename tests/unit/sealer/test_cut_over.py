"""Key rotation with a cut-over: the old key signs until then, the new one from the rotation;
nothing is published that `riskseal verify` would refuse; sealers stop before the cut-over."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from riskseal.audit.manifest_checks import follow_versions
from riskseal.cli import main
from riskseal.cli.keys import parse_cut_over
from riskseal.errors import ConfigError
from riskseal.keys import FileSigner
from riskseal.manifest import first_manifest, manifest_key, rotated
from riskseal.sealer import keyring
from riskseal.sealer.keyring import (
    due_cut_over,
    earliest_cut_over_ms,
    ensure_signer_listed,
    manifest_versions,
    publish_rotation,
)
from riskseal.sealer.store import MemoryBlockStore
from riskseal.timestamps import iso_text

MINUTE_MS = 60_000
NOW_MS = 1_790_000_000_000  # 2026-09-21T14:13:20Z
LEAD_MS = int(keyring.RETIREMENT_LEAD_S * 1000)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the keyring's wall clock (ms since the epoch)."""

    def set_now(time_ms: int) -> None:
        monkeypatch.setattr(keyring, "now_ms", lambda: time_ms)

    set_now(NOW_MS)
    return set_now


def bucket_with(signer: FileSigner, since_ms: int) -> MemoryBlockStore:
    store = MemoryBlockStore()
    store.create(manifest_key("p", 0), first_manifest(signer, since_ms).sign([signer]))
    return store


def test_a_scheduled_rotation_lets_both_keys_sign_until_the_cut_over() -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    first = first_manifest(old, NOW_MS - MINUTE_MS)
    cut_over = NOW_MS + 10 * MINUTE_MS
    second = rotated(first, old, new, NOW_MS, cut_over)
    assert second.may_sign(old.key_id, cut_over - 1) and second.may_sign(new.key_id, NOW_MS)
    assert not second.may_sign(old.key_id, cut_over)
    assert not second.may_sign(new.key_id, NOW_MS - 1)
    followed = follow_versions(
        [first.sign([old]), second.sign([old, new])], [old.verifier]
    )  # the verifier's own rules
    assert followed == second


def test_rotation_publishes_the_cut_over_it_was_given(clock: Callable[[int], None]) -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    store = bucket_with(old, NOW_MS - MINUTE_MS)
    published = publish_rotation(store, "p", old, new, NOW_MS + 10 * MINUTE_MS)
    assert published.version == 1
    stored = manifest_versions(store, "p")
    assert len(stored) == 2
    assert follow_versions(stored, [old.verifier]) == published
    old_entry, new_entry = published.entry(old.key_id), published.entry(new.key_id)
    assert old_entry is not None and old_entry.valid_until_ms == NOW_MS + 10 * MINUTE_MS
    assert new_entry is not None and new_entry.valid_from_ms == NOW_MS


def test_rotation_without_a_cut_over_retires_the_old_key_now(clock: Callable[[int], None]) -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    published = publish_rotation(bucket_with(old, NOW_MS - MINUTE_MS), "p", old, new)
    assert not published.may_sign(old.key_id, NOW_MS)
    assert published.may_sign(old.key_id, NOW_MS - 1)


def test_a_cut_over_in_the_past_or_too_soon_is_refused_and_nothing_is_written(
    clock: Callable[[int], None],
) -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    store = bucket_with(old, NOW_MS - 10 * MINUTE_MS)
    with pytest.raises(ConfigError, match="is in the past: running sealers"):
        publish_rotation(store, "p", old, new, NOW_MS - MINUTE_MS)
    with pytest.raises(ConfigError, match="is too soon: running sealers"):
        publish_rotation(store, "p", old, new, earliest_cut_over_ms(NOW_MS) - 1)
    assert len(manifest_versions(store, "p")) == 1


def test_a_version_verify_would_refuse_is_not_published(clock: Callable[[int], None]) -> None:
    # Moving a retired key's end into the future extends it, and only the retired key and a
    # key new to the manifest sign: the verifier refuses that version, so it is not written.
    old, new, other = (FileSigner.generate(name) for name in ("old", "new", "other"))
    store = bucket_with(old, NOW_MS - 10 * MINUTE_MS)
    clock(NOW_MS - 5 * MINUTE_MS)
    publish_rotation(store, "p", old, new)  # old retired 5 minutes ago
    clock(NOW_MS)
    with pytest.raises(ConfigError, match="nothing was published: `riskseal verify` would refuse"):
        publish_rotation(store, "p", old, other, NOW_MS + 10 * MINUTE_MS)
    assert len(manifest_versions(store, "p")) == 2


def test_a_sealer_stops_a_lead_before_its_key_cut_over() -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    cut_over = NOW_MS + 10 * MINUTE_MS
    manifest = rotated(first_manifest(old, NOW_MS - MINUTE_MS), old, new, NOW_MS, cut_over)
    assert due_cut_over(manifest, old.key_id, cut_over - LEAD_MS - 1) is None
    assert due_cut_over(manifest, old.key_id, cut_over - LEAD_MS) == cut_over
    assert due_cut_over(manifest, old.key_id, cut_over + MINUTE_MS) == cut_over
    assert due_cut_over(manifest, new.key_id, cut_over + MINUTE_MS) is None  # open-ended
    assert due_cut_over(manifest, FileSigner.generate("x").key_id, NOW_MS) is None


def test_a_sealer_does_not_start_with_a_key_about_to_retire(clock: Callable[[int], None]) -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    store = bucket_with(old, NOW_MS - 20 * MINUTE_MS)
    clock(NOW_MS - 10 * MINUTE_MS)
    cut_over = NOW_MS + LEAD_MS // 2
    publish_rotation(store, "p", old, new, cut_over)
    clock(NOW_MS)
    with pytest.raises(ConfigError, match=f"retires at {iso_text(cut_over)}.*took over"):
        ensure_signer_listed(store, "p", old)
    assert ensure_signer_listed(store, "p", new).version == 1


def test_the_earliest_cut_over_covers_a_stale_manifest_a_clock_skew_and_the_stop() -> None:
    ahead_s = keyring.MANIFEST_MAX_AGE_S + keyring.ROTATION_CLOCK_SKEW_S + keyring.RETIREMENT_LEAD_S
    assert earliest_cut_over_ms(NOW_MS) - NOW_MS == int(ahead_s * 1000) == 340_000


def test_the_same_key_cannot_take_over_from_itself(clock: Callable[[int], None]) -> None:
    old = FileSigner.generate("old")
    store = bucket_with(old, NOW_MS - MINUTE_MS)
    with pytest.raises(ConfigError, match="--old and --new are the same key"):
        publish_rotation(store, "p", old, old, NOW_MS + 10 * MINUTE_MS)
    assert len(manifest_versions(store, "p")) == 1


def test_a_retired_key_cannot_take_over_again(clock: Callable[[int], None]) -> None:
    # B retired in favour of C; then C -> B would leave B's old end in place, and no key
    # valid after C's cut-over: the manifest could never be rotated again.
    first, second, third = (FileSigner.generate(name) for name in ("a", "b", "c"))
    store = bucket_with(first, NOW_MS - 10 * MINUTE_MS)
    clock(NOW_MS - 8 * MINUTE_MS)
    publish_rotation(store, "p", first, second)
    clock(NOW_MS - 6 * MINUTE_MS)
    publish_rotation(store, "p", second, third)
    clock(NOW_MS)
    with pytest.raises(ConfigError, match="no key can extend its own validity"):
        publish_rotation(store, "p", third, second, NOW_MS + 10 * MINUTE_MS)
    assert len(manifest_versions(store, "p")) == 3


def test_rotating_again_to_the_same_new_key_can_bring_the_cut_over_forward(
    clock: Callable[[int], None],
) -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    store = bucket_with(old, NOW_MS - MINUTE_MS)
    publish_rotation(store, "p", old, new, NOW_MS + 10 * MINUTE_MS)
    clock(NOW_MS + MINUTE_MS)
    leaked = publish_rotation(store, "p", old, new)  # the old key leaked: retire it now
    assert not leaked.may_sign(old.key_id, NOW_MS + MINUTE_MS)
    assert follow_versions(manifest_versions(store, "p"), [old.verifier]) == leaked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", None),
        (" NOW ", None),
        ("90s", NOW_MS + 90_000),
        ("15m", NOW_MS + 15 * MINUTE_MS),
        ("2h", NOW_MS + 120 * MINUTE_MS),
        ("1d", NOW_MS + 1_440 * MINUTE_MS),
        ("2026-12-01T18:00Z", 1_796_148_000_000),
        ("2026-12-01T18:00:00", 1_796_148_000_000),  # UTC unless a zone is named
        ("2026-12-01T19:00+01:00", 1_796_148_000_000),
    ],
)
def test_cut_over_is_now_a_delay_or_an_iso_time(text: str, expected: int | None) -> None:
    assert parse_cut_over(text, NOW_MS) == expected


@pytest.mark.parametrize("text", ["soon", "15 minutes", "-5m", "1w", "2026-13-01", ""])
def test_an_unreadable_cut_over_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ConfigError, match=r"is not `now`, a delay .* or an ISO time"):
        parse_cut_over(text, NOW_MS)


def test_rotate_refuses_a_cut_over_sealers_could_miss_before_touching_the_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("old", "new"):
        FileSigner.generate(name).save(tmp_path / f"{name}.key")
    monkeypatch.setenv("RISKSEAL_S3_ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    old, new = str(tmp_path / "old.key"), str(tmp_path / "new.key")
    args = ["keys", "rotate", "--old", old, "--new", new]
    assert main([*args, "--cut-over", "5m"]) == 2
    message = capsys.readouterr().err
    assert "is too soon: running sealers read the key manifest at least every 30 s" in message
    assert "their clocks may be 300 s off" in message
    assert "or stop every sealer and give --cut-over now" in message
    assert main([*args, "--cut-over", "2020-01-01T00:00Z"]) == 2
    assert "the cut-over 2020-01-01T00:00:00Z is in the past" in capsys.readouterr().err
