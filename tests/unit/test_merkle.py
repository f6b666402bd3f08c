"""RFC 6962 Merkle trees: transparency-dev vectors, the reference tree, attacks and properties."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from riskseal.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    ConsistencyProofError,
    InclusionProofError,
    ProofError,
    consistency_proof,
    consistency_proof_length,
    inclusion_proof,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc6962-proofs"

# transparency-dev/merkle testonly/constants.go (Apache-2.0): the leaves of the RFC 6962
# reference tree, its root after each of 0..8 leaves, and the frontier after each size.
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip
REFERENCE_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
_N0 = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
       "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
       "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
       "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
       "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
       "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
       "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"]  # fmt: skip
_N1 = ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
       "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
       "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"]  # fmt: skip
_N2 = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
REFERENCE_FRONTIERS: list[list[str]] = [
    [], [_N0[0]], [_N1[0]], [_N1[0], _N0[2]], [_N2], [_N2, _N0[4]], [_N2, _N1[2]],
    [_N2, _N1[2], _N0[6]], [REFERENCE_ROOTS[8]],
]  # fmt: skip

Case = Any  # one decoded JSON vector


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _proof(case: Case) -> list[bytes]:
    return [_b64(p) for p in case["proof"] or []]


def _load(kind: str) -> list[tuple[str, Case]]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [(str(f.relative_to(VECTORS)), json.loads(f.read_text())) for f in files]


def _params(cases: list[tuple[str, Case]]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", [c for _, c in cases], ids=[n for n, _ in cases])


def _aligned_subtree(start: int, end: int) -> bool:
    """The Merkle Tree Certificates rule for a subtree [start, end) (transparency-dev
    ``isSubtreeValid``): start ≤ end and start is a multiple of bit_ceil(end - start)."""
    if start > end:
        return False
    if start in (0, end):
        return True
    bit_ceil = 1 << (end - start - 1).bit_length()
    return start % bit_ceil == 0


INCLUSION = _load("inclusion")
CONSISTENCY = _load("consistency")
SUBTREE_INCLUSION = _load("subtreeinclusion")
SUBTREE_CONSISTENCY = _load("subtreeconsistency")
# A subtree inclusion proof for leaf i of an aligned subtree [start, end) is exactly the
# RFC 6962 inclusion proof of leaf i - start in the tree of the end - start leaves.
SUBTREE_INCLUSION_AS_RFC6962 = [
    (n, c) for n, c in SUBTREE_INCLUSION if _aligned_subtree(c["start"], c["end"])
]
# A subtree consistency proof for [0, end) in a tree of `size` leaves is exactly the RFC 6962
# consistency proof from `end` to `size`; for start > 0 it is a proof RFC 6962 does not have.
SUBTREE_CONSISTENCY_AS_RFC6962 = [
    (n, c) for n, c in SUBTREE_CONSISTENCY if c["start"] == 0 and c["end"] > 0
]


def test_every_vector_file_is_loaded() -> None:
    counts = [len(INCLUSION), len(CONSISTENCY), len(SUBTREE_INCLUSION), len(SUBTREE_CONSISTENCY)]
    assert counts == [98, 98, 204, 118]
    assert [len(SUBTREE_INCLUSION_AS_RFC6962), len(SUBTREE_CONSISTENCY_AS_RFC6962)] == [201, 91]


@_params(INCLUSION)
def test_inclusion_vector_is_accepted_or_rejected_as_the_go_reference_does(case: Case) -> None:
    def check() -> None:
        verify_inclusion(
            _b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            _proof(case),
            _b64(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(InclusionProofError):
            check()
    else:
        check()


@_params(CONSISTENCY)
def test_consistency_vector_is_accepted_or_rejected_as_the_go_reference_does(case: Case) -> None:
    def check() -> None:
        verify_consistency(
            case["size1"], case["size2"], _proof(case), _b64(case["root1"]), _b64(case["root2"])
        )

    if case["wantErr"]:
        with pytest.raises(ConsistencyProofError):
            check()
    else:
        check()


@_params(SUBTREE_INCLUSION_AS_RFC6962)
def test_aligned_subtree_inclusion_vector_agrees_as_an_rfc6962_proof(case: Case) -> None:
    start, end, index = case["start"], case["end"], case["leafIdx"]

    def check() -> None:
        verify_inclusion(
            _b64(case["leafHash"]), index - start, end - start, _proof(case), _b64(case["root"])
        )

    if case["wantErr"]:
        with pytest.raises(InclusionProofError):
            check()
    else:
        check()


def test_misaligned_subtree_inclusion_vectors_are_all_rejections() -> None:
    # Their rejection comes from the subtree alignment rule, which is not part of RFC 6962.
    misaligned = [c for _, c in SUBTREE_INCLUSION if not _aligned_subtree(c["start"], c["end"])]
    assert len(misaligned) == 3
    assert all(c["wantErr"] for c in misaligned)


@_params(SUBTREE_CONSISTENCY_AS_RFC6962)
def test_prefix_subtree_consistency_vector_agrees_as_an_rfc6962_proof(case: Case) -> None:
    def check() -> None:
        verify_consistency(
            case["end"], case["size"], _proof(case), _b64(case["root1"]), _b64(case["root2"])
        )

    if case["wantErr"]:
        with pytest.raises(ConsistencyProofError):
            check()
    else:
        check()


def test_empty_prefix_subtree_vectors_are_refused_as_consistency_from_size_zero() -> None:
    # Merkle Tree Certificates accept a proof for the empty subtree [0, 0) in some of these;
    # RFC 9162 (and transparency-dev's VerifyConsistency) refuse every proof from size 0.
    empty = [c for _, c in SUBTREE_CONSISTENCY if c["start"] == c["end"] == 0]
    assert (len(empty), sum(not c["wantErr"] for c in empty)) == (11, 2)
    for case in empty:
        with pytest.raises(ConsistencyProofError, match="from the empty tree"):
            verify_consistency(
                0, case["size"], _proof(case), _b64(case["root1"]), _b64(case["root2"])
            )


def test_reference_tree_root_is_the_published_one() -> None:
    leaves = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
    assert root(leaves).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@pytest.mark.parametrize("size", range(9))
def test_reference_tree_prefix_root_and_frontier_match_go(size: int) -> None:
    leaves = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES[:size]]
    tree = CompactRange()
    tree.extend(leaves)
    assert root(leaves).hex() == REFERENCE_ROOTS[size]
    assert tree.root().hex() == REFERENCE_ROOTS[size]
    assert [h.hex() for h in tree.frontier()] == REFERENCE_FRONTIERS[size]


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]).hex() == EMPTY_ROOT.hex() == CompactRange().root().hex() == expected


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(b"") != EMPTY_ROOT
    assert node_hash(left, right) != leaf_hash(left + right)


def test_root_refuses_leaf_data_in_place_of_leaf_hashes() -> None:
    with pytest.raises(ValueError, match="leaf hash 1 is 3 bytes"):
        root([leaf_hash(b"a"), b"abc"])


def test_inclusion_proof_of_an_index_outside_the_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="outside a tree of 1 leaves"):
        inclusion_proof([leaf_hash(b"a")], 1)


def test_consistency_proof_from_the_empty_tree_is_refused() -> None:
    with pytest.raises(ValueError, match=r"outside 1\.\.1"):
        consistency_proof([leaf_hash(b"a")], 0)


# --- named attacks, with the message that names the failed check -------------------------

EIGHT = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
EIGHT_ROOT = root(EIGHT)


def test_inclusion_proof_missing_a_hash_names_the_needed_length() -> None:
    proof = inclusion_proof(EIGHT, 5)
    with pytest.raises(
        InclusionProofError, match=r"leaf 5 .* size 8: the proof has 2 hashes, the tree needs 3"
    ):
        verify_inclusion(EIGHT[5], 5, 8, proof[:-1], EIGHT_ROOT)


def test_inclusion_proof_with_an_extra_hash_names_the_needed_length() -> None:
    proof = inclusion_proof(EIGHT, 5)
    with pytest.raises(InclusionProofError, match="the proof has 4 hashes, the tree needs 3"):
        verify_inclusion(EIGHT[5], 5, 8, [*proof, EIGHT[0]], EIGHT_ROOT)


def test_inclusion_of_a_substituted_leaf_reports_a_root_mismatch() -> None:
    with pytest.raises(InclusionProofError, match=f"expected {EIGHT_ROOT.hex()}"):
        verify_inclusion(leaf_hash(b"forged"), 5, 8, inclusion_proof(EIGHT, 5), EIGHT_ROOT)


def test_inclusion_proof_hash_of_the_wrong_size_is_named() -> None:
    proof = inclusion_proof(EIGHT, 5)
    proof[1] = proof[1][:-1]
    with pytest.raises(InclusionProofError, match="proof hash 1 is 31 bytes, not 32"):
        verify_inclusion(EIGHT[5], 5, 8, proof, EIGHT_ROOT)


def test_consistency_with_a_forged_old_root_names_root1() -> None:
    proof = consistency_proof(EIGHT, 3)
    with pytest.raises(ConsistencyProofError, match="size 3 to size 8: the proof leads to root1"):
        verify_consistency(3, 8, proof, leaf_hash(b"forged"), EIGHT_ROOT)


def test_consistency_with_a_forged_new_root_names_root2() -> None:
    proof = consistency_proof(EIGHT, 3)
    with pytest.raises(ConsistencyProofError, match="the proof leads to root2"):
        verify_consistency(3, 8, proof, root(EIGHT[:3]), leaf_hash(b"forged"))


def test_consistency_proof_missing_a_hash_names_the_needed_length() -> None:
    proof = consistency_proof(EIGHT, 3)
    with pytest.raises(ConsistencyProofError, match="the proof has 3 hashes, the trees need 4"):
        verify_consistency(3, 8, proof[:-1], root(EIGHT[:3]), EIGHT_ROOT)


def test_consistency_proof_with_an_extra_hash_names_the_needed_length() -> None:
    proof = consistency_proof(EIGHT, 3)
    with pytest.raises(ConsistencyProofError, match="the proof has 5 hashes, the trees need 4"):
        verify_consistency(3, 8, [*proof, EIGHT[0]], root(EIGHT[:3]), EIGHT_ROOT)


def test_consistency_to_a_smaller_tree_is_refused() -> None:
    with pytest.raises(ConsistencyProofError, match="size1 must be between 0 and size2"):
        verify_consistency(8, 3, [], EIGHT_ROOT, root(EIGHT[:3]))


def test_inclusion_proof_does_not_bind_the_tree_size_on_its_own() -> None:
    # Leaf 0's path in 4 leaves has the same shape as in 3: a verifier must take the size
    # from the signed checkpoint that gave it the root, never from the prover.
    four = EIGHT[:4]
    verify_inclusion(four[0], 0, 3, inclusion_proof(four, 0), root(four))


def test_consistency_proof_does_not_bind_the_sizes_on_their_own() -> None:
    # Same shape from (1, 2) and from (2, 3): sizes must come with the signed roots.
    two = EIGHT[:2]
    verify_consistency(2, 3, consistency_proof(two, 1), root(two[:1]), root(two))


# --- properties --------------------------------------------------------------------------

distinct_leaves = st.lists(st.binary(max_size=6), min_size=1, max_size=40, unique=True).map(
    lambda values: [leaf_hash(value) for value in values]
)


def _mth_by_definition(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively, as an independent oracle."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_mth_by_definition(leaves[:k]), _mth_by_definition(leaves[k:]))


def _flip(proof: list[bytes], element: int, bit: int) -> list[bytes]:
    flipped = bytearray(proof[element])
    flipped[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:element], bytes(flipped), *proof[element + 1 :]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=80))
def test_root_equals_the_recursive_definition(leaves: list[bytes]) -> None:
    assert root(leaves) == _mth_by_definition(leaves)


@settings(max_examples=40, deadline=None)
@given(distinct_leaves)
def test_every_inclusion_proof_verifies_and_has_the_computed_length(leaves: list[bytes]) -> None:
    tree_root, size = root(leaves), len(leaves)
    for index, leaf in enumerate(leaves):
        proof = inclusion_proof(leaves, index)
        assert len(proof) == inclusion_proof_length(index, size)
        verify_inclusion(leaf, index, size, proof, tree_root)


@settings(max_examples=60, deadline=None)
@given(distinct_leaves.filter(lambda leaves: len(leaves) > 1), st.data())
def test_inclusion_proof_with_any_bit_flipped_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = inclusion_proof(leaves, index)
    element = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1))
    with pytest.raises(InclusionProofError):
        verify_inclusion(
            leaves[index], index, len(leaves), _flip(proof, element, bit), root(leaves)
        )


@settings(max_examples=60, deadline=None)
@given(distinct_leaves, st.data())
def test_truncated_or_extended_inclusion_proof_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = inclusion_proof(leaves, index)
    extra = data.draw(st.binary(min_size=32, max_size=32))
    changed = [[*proof, extra], [extra, *proof]]
    if proof:
        changed += [proof[:-1], proof[1:]]
    for tampered in changed:
        with pytest.raises(InclusionProofError):
            verify_inclusion(leaves[index], index, len(leaves), tampered, root(leaves))


@settings(max_examples=60, deadline=None)
@given(distinct_leaves.filter(lambda leaves: len(leaves) > 1), st.data())
def test_inclusion_proof_for_another_index_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.integers(0, len(leaves) - 1).filter(lambda i: i != index))
    proof = inclusion_proof(leaves, index)
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaves[index], other, len(leaves), proof, root(leaves))


@settings(max_examples=60, deadline=None)
@given(distinct_leaves, st.data())
def test_inclusion_proof_against_a_size_with_another_path_length_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    wrong_size = data.draw(st.integers(0, 2 * len(leaves) + 2))
    proof = inclusion_proof(leaves, index)
    assume(wrong_size <= index or inclusion_proof_length(index, wrong_size) != len(proof))
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaves[index], index, wrong_size, proof, root(leaves))


@settings(max_examples=40, deadline=None)
@given(distinct_leaves)
def test_every_consistency_proof_verifies_and_has_the_computed_length(
    leaves: list[bytes],
) -> None:
    size2, root2 = len(leaves), root(leaves)
    for size1 in range(1, size2 + 1):
        proof = consistency_proof(leaves, size1)
        assert len(proof) == consistency_proof_length(size1, size2)
        verify_consistency(size1, size2, proof, root(leaves[:size1]), root2)


@settings(max_examples=60, deadline=None)
@given(distinct_leaves.filter(lambda leaves: len(leaves) > 1), st.data())
def test_consistency_proof_with_any_bit_flipped_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size1 = data.draw(st.integers(1, len(leaves) - 1))
    proof = consistency_proof(leaves, size1)
    element = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1))
    tampered = _flip(proof, element, bit)
    with pytest.raises(ConsistencyProofError):
        verify_consistency(size1, len(leaves), tampered, root(leaves[:size1]), root(leaves))


@settings(max_examples=60, deadline=None)
@given(distinct_leaves.filter(lambda leaves: len(leaves) > 1), st.data())
def test_truncated_or_extended_consistency_proof_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size1 = data.draw(st.integers(1, len(leaves) - 1))
    proof = consistency_proof(leaves, size1)
    extra = data.draw(st.binary(min_size=32, max_size=32))
    for tampered in [[*proof, extra], [extra, *proof], proof[:-1], proof[1:]]:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(size1, len(leaves), tampered, root(leaves[:size1]), root(leaves))


@settings(max_examples=60, deadline=None)
@given(distinct_leaves.filter(lambda leaves: len(leaves) > 1), st.data())
def test_consistency_proof_against_sizes_with_another_length_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size1 = data.draw(st.integers(1, len(leaves) - 1))
    proof = consistency_proof(leaves, size1)
    wrong1 = data.draw(st.integers(0, 2 * len(leaves)))
    wrong2 = data.draw(st.integers(0, 2 * len(leaves)))
    assume((wrong1, wrong2) != (size1, len(leaves)))
    assume(not 1 <= wrong1 <= wrong2 or consistency_proof_length(wrong1, wrong2) != len(proof))
    with pytest.raises(ConsistencyProofError):
        verify_consistency(wrong1, wrong2, proof, root(leaves[:size1]), root(leaves))


@settings(max_examples=60, deadline=None)
@given(distinct_leaves.filter(lambda leaves: len(leaves) > 1), st.data())
def test_consistency_with_a_substituted_old_leaf_is_rejected(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size1 = data.draw(st.integers(1, len(leaves) - 1))
    changed = data.draw(st.integers(0, size1 - 1))
    rewritten = [*leaves[:changed], leaf_hash(b"rewritten history"), *leaves[changed + 1 :]]
    proof = consistency_proof(leaves, size1)
    with pytest.raises(ConsistencyProofError):
        verify_consistency(size1, len(leaves), proof, root(rewritten[:size1]), root(leaves))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
def test_compact_range_root_equals_the_full_root_at_every_size(leaves: list[bytes]) -> None:
    tree = CompactRange()
    assert tree.root() == EMPTY_ROOT
    for size, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.size == size
        assert tree.root() == root(leaves[:size])
        assert len(tree.frontier()) == size.bit_count()
        assert CompactRange.from_frontier(size, tree.frontier()).root() == tree.root()


def test_compact_range_copy_is_independent() -> None:
    tree = CompactRange()
    tree.extend(EIGHT[:5])
    snapshot = tree.copy()
    tree.append(EIGHT[5])
    assert (snapshot.size, snapshot.root()) == (5, root(EIGHT[:5]))
    assert (tree.size, tree.root()) == (6, root(EIGHT[:6]))


def test_frontier_with_the_wrong_number_of_hashes_is_refused() -> None:
    with pytest.raises(ProofError, match="size 3: needs 2 hashes, got 1"):
        CompactRange.from_frontier(3, [EIGHT[0]])


def test_frontier_with_a_short_hash_is_refused() -> None:
    with pytest.raises(ProofError, match="hash 1 is 31 bytes"):
        CompactRange.from_frontier(3, [EIGHT[0], EIGHT[1][:31]])


def test_frontier_of_a_negative_size_is_refused() -> None:
    with pytest.raises(ProofError, match="negative"):
        CompactRange.from_frontier(-1, [])


def test_compact_range_refuses_a_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(ValueError, match="leaf hash is 4 bytes"):
        CompactRange().append(b"data")
