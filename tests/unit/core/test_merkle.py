"""RFC 6962 Merkle trees: the transparency-dev vectors, the reference tree, and properties."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ConsistencyProofError,
    InclusionProofError,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "rfc6962-proofs"
# The leaves of the RFC 6962 reference tree (certificate-transparency test data).
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip
REFERENCE_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _cases(kind: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [(str(f.relative_to(VECTORS)), json.loads(f.read_text())) for f in files]


INCLUSION = _cases("inclusion")
CONSISTENCY = _cases("consistency")


def test_vector_files_are_present() -> None:
    assert len(INCLUSION) > 50
    assert len(CONSISTENCY) > 50


@pytest.mark.parametrize(("name", "case"), INCLUSION, ids=[n for n, _ in INCLUSION])
def test_inclusion_vectors_agree(name: str, case: dict[str, Any]) -> None:
    def check() -> None:
        verify_inclusion(
            _b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            [_b64(p) for p in case["proof"] or []],
            _b64(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(InclusionProofError):
            check()
    else:
        check()


@pytest.mark.parametrize(("name", "case"), CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_consistency_vectors_agree(name: str, case: dict[str, Any]) -> None:
    def check() -> None:
        verify_consistency(
            case["size1"],
            case["size2"],
            [_b64(p) for p in case["proof"] or []],
            _b64(case["root1"]),
            _b64(case["root2"]),
        )

    if case["wantErr"]:
        with pytest.raises(ConsistencyProofError):
            check()
    else:
        check()


def test_reference_tree_root() -> None:
    assert root([leaf_hash(leaf) for leaf in REFERENCE_LEAVES]).hex() == REFERENCE_ROOT


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert (
        root([])
        == EMPTY_ROOT
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )


def test_domain_separation_of_leaves_and_nodes() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) != leaf_hash(left + right)


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(
    lambda values: [leaf_hash(value) for value in values]
)


@settings(max_examples=60, deadline=None)
@given(leaf_lists, st.data())
def test_every_inclusion_proof_verifies_and_a_wrong_index_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    tree_root = root(leaves)
    proof = inclusion_proof(leaves, index)
    verify_inclusion(leaves[index], index, len(leaves), proof, tree_root)
    other = data.draw(st.integers(0, len(leaves) - 1))
    if leaves[other] != leaves[index]:
        with pytest.raises(InclusionProofError):
            verify_inclusion(leaves[other], index, len(leaves), proof, tree_root)


@settings(max_examples=60, deadline=None)
@given(leaf_lists, st.data())
def test_every_consistency_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    size1 = data.draw(st.integers(1, len(leaves)))
    proof = consistency_proof(leaves, size1)
    verify_consistency(size1, len(leaves), proof, root(leaves[:size1]), root(leaves))


@settings(max_examples=60, deadline=None)
@given(leaf_lists.filter(lambda leaves: len(leaves) > 1), st.data())
def test_any_flipped_bit_in_a_proof_is_rejected(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = inclusion_proof(leaves, index)
    element = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    tampered = list(proof)
    tampered[element] = bytes(
        b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(tampered[element])
    )
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, len(leaves), tampered, root(leaves))
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, len(leaves), proof[:-1], root(leaves))
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, len(leaves), [*proof, proof[0]], root(leaves))


@settings(max_examples=40, deadline=None)
@given(leaf_lists)
def test_compact_range_root_equals_full_root_at_every_size(leaves: list[bytes]) -> None:
    tree = CompactRange()
    for size, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.size == size
        assert tree.root() == root(leaves[:size])
        assert len(tree.frontier()) == bin(size).count("1")
        assert CompactRange.from_frontier(size, tree.frontier()).root() == tree.root()


def test_frontier_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ProofError, match="frontier"):
        CompactRange.from_frontier(3, [leaf_hash(b"x")])


def test_consistency_from_the_empty_tree_is_refused() -> None:
    with pytest.raises(ConsistencyProofError, match="empty tree"):
        verify_consistency(0, 1, [], EMPTY_ROOT, leaf_hash(b"a"))
