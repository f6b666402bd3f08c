"""RFC 6962 / RFC 9162 Merkle trees over SHA-256: roots, proofs, and a compact range.

``leaf_hash(d) = SHA-256(0x00 ‖ d)``, ``node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)``; the tree
over n leaves splits at the largest power of two smaller than n. Verification follows
RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by step, and agrees with every
case of the transparency-dev/merkle test vectors (tests/vectors/rfc6962-proofs). Verifiers
return nothing and raise a specific ProofError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from riskseal.errors import IntegrityError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(IntegrityError):
    """A Merkle proof does not prove what it claims."""


class InclusionProofError(ProofError):
    """An inclusion proof is malformed or leads to another root."""


class ConsistencyProofError(ProofError):
    """A consistency proof is malformed or the trees are not consistent."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 ‖ data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash over leaf hashes (already ``leaf_hash``-ed)."""
    if not leaves:
        return EMPTY_ROOT
    tree = CompactRange()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def _subtree_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    tree = CompactRange()
    for index in range(start, end):
        tree.append(leaves[index])
    return tree.root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree over ``leaves`` (RFC 6962 §2.1.1)."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} outside a tree of {len(leaves)}")
    path: list[bytes] = []
    start, end = 0, len(leaves)
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            path.append(_subtree_root(leaves, start + k, end))
            end = start + k
        else:
            path.append(_subtree_root(leaves, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """The proof that the first ``size1`` leaves are a prefix of ``leaves`` (RFC 6962 §2.1.2)."""
    size2 = len(leaves)
    if not 0 <= size1 <= size2:
        raise ValueError(f"size1 {size1} outside 0..{size2}")
    if size1 in (0, size2):
        return []

    def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [_subtree_root(leaves, start, end)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, start + k, complete), _subtree_root(leaves, start + k, end)]
        return [*subproof(m - k, start + k, end, False), _subtree_root(leaves, start, start + k)]

    return subproof(size1, 0, size2, True)


def _check_hash(value: bytes, what: str, error: type[ProofError]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` of the tree with ``expected_root``."""
    _check_hash(leaf, "leaf hash", InclusionProofError)
    _check_hash(expected_root, "root", InclusionProofError)
    if not 0 <= index < tree_size:
        raise InclusionProofError(f"index {index} outside a tree of size {tree_size}")
    fn, sn = index, tree_size - 1
    computed = leaf
    for element in proof:
        _check_hash(element, "proof element", InclusionProofError)
        if sn == 0:
            raise InclusionProofError("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            computed = node_hash(element, computed)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            computed = node_hash(computed, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofError("proof is shorter than the tree is deep")
    if computed != expected_root:
        raise InclusionProofError(
            f"leaf {index} of {tree_size} leads to root {computed.hex()}, "
            f"expected {expected_root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size1`` leaves with ``root1`` is a prefix of the other."""
    if not 0 <= size1 <= size2:
        raise ConsistencyProofError(f"size {size1} is not at most {size2}")
    if size1 == 0:
        raise ConsistencyProofError("a proof from the empty tree proves nothing; refused")
    if size1 == size2:
        if proof:
            raise ConsistencyProofError("trees of equal size need an empty proof")
        if root1 != root2:
            raise ConsistencyProofError("trees of equal size have different roots")
        return
    if not proof:
        raise ConsistencyProofError("proof is empty")
    # Hash sizes matter only from here: the trivial cases above compare roots as given.
    _check_hash(root1, "first root", ConsistencyProofError)
    _check_hash(root2, "second root", ConsistencyProofError)
    for element in proof:
        _check_hash(element, "proof element", ConsistencyProofError)
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ConsistencyProofError("proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(element, fr)
            sr = node_hash(element, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError("proof is shorter than needed")
    if fr != root1:
        raise ConsistencyProofError(f"proof does not lead to the first root {root1.hex()}")
    if sr != root2:
        raise ConsistencyProofError(f"proof does not lead to the second root {root2.hex()}")


class CompactRange:
    """The roots of the perfect subtrees covering leaves ``0 … size-1`` (a Merkle frontier).

    Appending is amortised O(1) and memory O(log n); ``root()`` folds the frontier right to
    left. This is how a sealer keeps a chain's tree without holding every leaf.
    """

    __slots__ = ("_hashes", "size")

    def __init__(self) -> None:
        self.size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_frontier(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild from a size and its frontier; ProofError if they do not fit together."""
        if size < 0 or len(hashes) != bin(size).count("1"):
            raise ProofError(
                f"a tree of {size} leaves has {bin(max(size, 0)).count('1')} frontier hashes, "
                f"got {len(hashes)}"
            )
        for value in hashes:
            _check_hash(value, "frontier hash", ProofError)
        tree = cls()
        tree.size = size
        tree._hashes = list(hashes)
        return tree

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        self._hashes.append(leaf)
        self.size += 1
        merges = (self.size & -self.size).bit_length() - 1  # trailing zero bits of the size
        for _ in range(merges):
            right = self._hashes.pop()
            left = self._hashes.pop()
            self._hashes.append(node_hash(left, right))

    def frontier(self) -> list[bytes]:
        """The subtree roots, left (largest) to right."""
        return list(self._hashes)

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves so far."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange.from_frontier(self.size, self._hashes)
