"""`verify-proof` parses bundles strictly: every field is checked against what it claims or
rejected when malformed (docs/PROOFS.md §7). Either way the exit code is 1: a bundle that
does not parse proves nothing. Files that cannot be read are exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from riskseal.audit.proof import ProofBundle, ProofBundleError, verify_bundle
from riskseal.block import BlockHeader, SealedRecord, block_key, records_root
from riskseal.cli import main
from riskseal.merkle import inclusion_proof, leaf_hash
from tests.unit.audit.trail import PREFIX, REQUESTS, Trail, request


def _prove(trail: Trail, tmp_path: Path) -> Path:
    bundle = tmp_path / "proof.json"
    assert (
        main(["prove", request(4).event_id, "--local", str(trail.root), "--out", str(bundle)]) == 0
    )
    return bundle


def _verify(trail: Trail, bundle: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify-proof", str(bundle), "--trust", str(trail.vkey_file())])
    return code, capsys.readouterr().err


def _edit(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(bundle.read_text())
    change(document)
    bundle.write_text(json.dumps(document, indent=2))


def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        for name in path[:-1]:
            document = document[name]
        document[path[-1]] = value

    return change


def _twiddle_padding(text: str) -> str:
    """The same bytes with non-zero unused bits: a base64 that decodes but is not canonical."""
    assert text.endswith("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stem = text.rstrip("=")
    return stem[:-1] + alphabet[alphabet.index(stem[-1]) + 1] + text[len(stem) :]


def _b64_field(*path: str, edit: Callable[[str], str]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        for name in path[:-1]:
            document = document[name]
        document[path[-1]] = edit(document[path[-1]])

    return change


def _path_entry(edit: Callable[[str], str]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["record_path"][0] = edit(document["record_path"][0])

    return change


def _chain_proof(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        assert old in document["chain_proof"]
        document["chain_proof"] = document["chain_proof"].replace(old, new, 1)

    return change


def _chain_hash(edit: Callable[[str], str]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        lines = document["chain_proof"].split("\n")
        lines[2] = edit(lines[2])
        document["chain_proof"] = "\n".join(lines)

    return change


def _delete(name: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        del document[name]

    return change


@pytest.mark.parametrize(
    ("name", "value"), [("topic", "risk.decisions"), ("partition", 7), ("offset", 123456)]
)
def test_record_coordinates_must_be_those_of_the_record(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, value: Any
) -> None:
    bundle = _prove(trail, tmp_path)
    _edit(bundle, _set("record", name, value=value))
    code, err = _verify(trail, bundle, capsys)
    assert code == 1
    assert f"malformed proof bundle: record.{name} is {value!r}, but the record proven" in err


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set("record_index", value="0"), "record_index is a string"),
        (_set("record_index", value=0.0), "record_index is a number"),
        (_set("record_index", value=False), "record_index is a boolean"),
        (_set("record_index", value=-1), "record_index -1 is out of range"),
        (_set("record_index", value=3), "record_index 3 is not below record_count"),
        (_set("record_count", value="3"), "record_count is a string"),
        (_set("record_count", value=0), "record_count 0 is out of range"),
        (_set("record_count", value=2**63), "record_count 9223372036854775808 is out of range"),
        (_set("record", "partition", value=False), "record.partition is False"),
        (_set("record", "offset", value=4.0), "record.offset is 4.0"),
        (_set("record", "offset", value="4"), "record.offset is '4'"),
        (_set("record_path", value="AAAA"), "record_path is not a list"),
        (_set("format", value="riskseal-proof-v2"), "format is 'riskseal-proof-v2'"),
        (_set("chain_proof", value=None), "chain_proof is null"),
        (_set("extra", value=1), "the bundle has unknown field(s) extra"),
        (_set("record", "note", value="x"), "record has unknown field(s) note"),
        (_delete("record_count"), "the bundle lacks record_count"),
        (_set("record", value=[]), "record is a list"),
        (_b64_field("record", "canonical_b64", edit=_twiddle_padding), "record.canonical_b64"),
        (_b64_field("block_header_b64", edit=_twiddle_padding), "block_header_b64 is not canon"),
        (_b64_field("block_signature_b64", edit=_twiddle_padding), "block_signature_b64 is not"),
        (
            _b64_field("block_signature_b64", edit=lambda t: t[:-4]),
            "block_signature_b64 is 63 bytes",
        ),
        (_b64_field("block_header_b64", edit=lambda t: " " + t), "block_header_b64 is not base64"),
        (_b64_field("block_header_b64", edit=lambda t: t.rstrip("=")), "block_header_b64 is not"),
        (_path_entry(_twiddle_padding), "record_path[0] is not canonical base64"),
        (_path_entry(lambda t: t + "\n"), "record_path[0] is not base64"),
        (_path_entry(lambda t: "AAAA"), "record_path[0] is 3 bytes, not 32"),
        (_set("record_path", value=[3]), "record_path[0] is an integer"),
        (_chain_proof("index 1\n", "index 0_1\n"), "chain_proof index line 'index 0_1'"),
        (_chain_proof("index 1\n", "index +1\n"), "chain_proof index line 'index +1'"),
        (_chain_proof("index 1\n", "index 01\n"), "chain_proof index line 'index 01'"),
        (_chain_proof("index 1\n", "index  1\n"), "chain_proof index line 'index  1'"),
        (_chain_proof("index 1\n", "index 1 \n"), "chain_proof index line 'index 1 '"),
        (_chain_proof("index 1\n", "index 9223372036854775808\n"), "chain_proof index line"),
        (_chain_proof("index 1\n", f"index {'1' * 5000}\n"), "chain_proof index line"),
        (_chain_proof("index 1\n", "index \u0661\n"), "chain_proof index line 'index \u0661'"),
        (_chain_proof("index 1\n", "index 9223372036854775808\n"), "chain_proof index line"),
        (_chain_proof("c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v2\n"), "chain_proof is"),
        (_chain_hash(_twiddle_padding), "chain_proof hash 0 is not canonical base64"),
        (_chain_hash(lambda t: t + " "), "chain_proof hash 0 is not"),
    ],
)
def test_malformed_field_fails_naming_it(
    trail: Trail,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    bundle = _prove(trail, tmp_path)
    _edit(bundle, change)
    code, err = _verify(trail, bundle, capsys)
    assert (code, err.count("FAIL:")) == (1, 1)
    assert f"malformed proof bundle: {field}" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"record_index": 1, "record_index": 1}', "repeated key(s) record_index"),
        (b'{"record_index": NaN}', "NaN is not a JSON number"),
        (b"\xff\xfe{}", "not a JSON document"),
        (b"[" * 100_000, "not a JSON document"),
        (b"[]", "the bundle is a list"),
    ],
)
def test_bundle_that_is_not_a_clean_json_object_fails(
    trail: Trail,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: bytes,
    message: str,
) -> None:
    bundle = tmp_path / "proof.json"
    bundle.write_bytes(text)
    code, err = _verify(trail, bundle, capsys)
    assert code == 1
    assert message in err


def test_genuine_bundle_still_round_trips(trail: Trail, tmp_path: Path) -> None:
    bundle = _prove(trail, tmp_path)
    parsed = ProofBundle.from_json(bundle.read_text())
    assert parsed.to_json() == bundle.read_text()
    assert verify_bundle(parsed, [trail.signer.verifier]).record.offset == 4


def _signed_bundle(
    trail: Trail, items: list[SealedRecord], index: int, **header_fields: Any
) -> ProofBundle:
    """A bundle of ``items[index]`` in a block signed by the trail's key, with no checkpoint."""
    encoded = [item.canonical_bytes() for item in items]
    chain = trail.chain(REQUESTS)
    fields: dict[str, Any] = {
        "origin": "o", "chain_id": str(chain), "seq": 0, "first_offset": 10,
        "last_offset": 10 + len(items) - 1, "record_count": len(items),
        "records_root": records_root(encoded), "prev_header_hash": bytes(32),
        "chain_size_before": 0, "chain_root_before": bytes(32), "created_ms": 1,
        "object_key": block_key(PREFIX, chain, 0), "key_id": trail.signer.key_id,
    }  # fmt: skip
    header = BlockHeader(**(fields | header_fields))
    return ProofBundle(
        record_bytes=encoded[index],
        record_index=index,
        record_count=len(items),
        record_path=tuple(inclusion_proof([leaf_hash(e) for e in encoded], index)),
        header_bytes=header.canonical_bytes(),
        signature=trail.signer.sign(header.signing_payload()),
        block_index=0,
        chain_path=(),
        checkpoint_note=b"",
    )


def _record(offset: int) -> SealedRecord:
    return SealedRecord(REQUESTS, 0, offset, 1, 1, None, b"v", (), None)


def test_record_index_must_be_the_place_of_the_records_offset(trail: Trail) -> None:
    """Records out of offset order in a signed block: the record at index 0 has offset 11,
    inside the block's range, yet index 0 is offset 10's place."""
    bundle = _signed_bundle(trail, [_record(11), _record(10)], 0)
    with pytest.raises(ProofBundleError, match="record_index 0 is not the place of offset 11"):
        verify_bundle(bundle, [trail.signer.verifier])


def test_header_record_count_must_match_its_offsets(trail: Trail) -> None:
    bundle = _signed_bundle(trail, [_record(10), _record(11)], 0, last_offset=20)
    with pytest.raises(ProofBundleError, match="record_count does not match its offsets"):
        verify_bundle(bundle, [trail.signer.verifier])


def test_unreadable_bundle_or_trust_file_is_exit_2(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _prove(trail, tmp_path)
    missing = tmp_path / "no-such.vkey"
    capsys.readouterr()
    assert main(["verify-proof", str(bundle), "--trust", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read --trust file {missing}: No such file or directory" in err
    assert "Traceback" not in err
    assert main(["verify-proof", str(tmp_path), "--trust", str(trail.vkey_file())]) == 2
    assert f"cannot read proof bundle {tmp_path}: Is a directory" in capsys.readouterr().err


def test_prove_into_a_missing_folder_is_exit_2(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "proof.json"
    code = main(["prove", request(4).event_id, "--local", str(trail.root), "--out", str(target)])
    assert code == 2
    assert f"cannot write --out {target}: No such file or directory" in capsys.readouterr().err
