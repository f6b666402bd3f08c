"""RFC 6962 / RFC 9162 Merkle trees over SHA-256: roots, proofs, and a compact range.

Hashing (RFC 9162 §2.1.1)::

    leaf_hash(d)    = SHA-256(0x00 ‖ d)
    node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)
    MTH({})         = SHA-256("")
    MTH({d0})       = leaf_hash(d0)
    MTH(D[n])       = node_hash(MTH(D[0:k]), MTH(D[k:n]))   k = largest power of 2 < n

Every function here takes *leaf hashes* (already ``leaf_hash``-ed), never leaf data.
Proofs are generated from the recursive definitions of RFC 9162 §2.1.3.1 / §2.1.4.1 and
verified with the step-by-step algorithms of §2.1.3.2 / §2.1.4.2; the verifiers agree with
every inclusion and consistency case of the transparency-dev/merkle test vectors
(``tests/vectors/rfc6962-proofs``). Verifiers return nothing and raise a specific
:class:`ProofError` whose message names the proof and the check that failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from riskseal.errors import IntegrityError

HASH_SIZE = 32
"""Bytes in a SHA-256 hash: every leaf hash, node hash, root and proof element."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree, ``SHA-256("")``."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(IntegrityError):
    """A Merkle proof or compact range does not prove what it claims."""


class InclusionProofError(ProofError):
    """An inclusion proof is malformed or does not lead to the expected root."""


class ConsistencyProofError(ProofError):
    """A consistency proof is malformed, or the two trees are not consistent."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 ‖ data)``: the hash of one leaf's data."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``: the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash (MTH) over ``leaf_hashes``; ``EMPTY_ROOT`` for no leaves.

    Computed level by level, promoting an unpaired last node unchanged, which gives the
    same tree as RFC 9162's split at the largest power of two; 1 M leaves take well under
    a second. ValueError if a leaf hash is not 32 bytes (leaf data passed by mistake).
    """
    _check_leaf_hashes(leaf_hashes)
    return _mth(leaf_hashes)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion proof (audit path) of leaf ``index``, leaf level first (RFC 9162 §2.1.3.1).

    ValueError if ``index`` is outside the tree.
    """
    _check_leaf_hashes(leaf_hashes)
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaf_hashes)} leaves")
    path: list[bytes] = []
    start, end = 0, len(leaf_hashes)
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(_mth(leaf_hashes[start + k : end]))
            end = start + k
        else:
            path.append(_mth(leaf_hashes[start : start + k]))
            start += k
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """The proof that the first ``size1`` leaves are a prefix of ``leaf_hashes`` (§2.1.4.1).

    Empty when ``size1`` is the whole tree. ValueError unless ``1 <= size1 <= len``: no
    consistency proof exists from the empty tree (RFC 9162 verifiers refuse it).
    """
    _check_leaf_hashes(leaf_hashes)
    size2 = len(leaf_hashes)
    if not 1 <= size1 <= size2:
        raise ValueError(f"size1 {size1} is outside 1..{size2}")
    # SUBPROOF(m, D[start:end], complete), unrolled: siblings are found top-down, so the
    # path is reversed at the end to list them leaf level first.
    path: list[bytes] = []
    start, end, m, complete = 0, size2, size1, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append(_mth(leaf_hashes[start + k : end]))
            end = start + k
        else:
            path.append(_mth(leaf_hashes[start : start + k]))
            start, m, complete = start + k, m - k, False
    if not complete:
        path.append(_mth(leaf_hashes[start:end]))
    path.reverse()
    return path


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check that leaf hash ``leaf`` is leaf ``index`` of the tree of ``tree_size`` leaves
    whose root is ``expected_root`` (RFC 9162 §2.1.3.2); InclusionProofError if not.

    An inclusion proof binds the leaf to the root, not to ``tree_size``: the tree size must
    come from the same authenticated source as the root (a verified checkpoint).
    """
    what = f"inclusion proof of leaf {index} in a tree of size {tree_size}"
    if not 0 <= index < tree_size:
        raise InclusionProofError(f"{what}: the index is outside the tree")
    _check_hash(leaf, what, "leaf hash", InclusionProofError)
    _check_hash(expected_root, what, "expected root", InclusionProofError)
    for position, element in enumerate(proof):
        _check_hash(element, what, f"proof hash {position}", InclusionProofError)
    # RFC 9162 §2.1.3.2, step by step.
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise _inclusion_length_error(what, len(proof), index, tree_size)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _inclusion_length_error(what, len(proof), index, tree_size)
    if r != expected_root:
        raise InclusionProofError(
            f"{what}: the proof leads to root {r.hex()}, expected {expected_root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size1`` leaves with ``root1`` is a prefix of the tree of
    ``size2`` leaves with ``root2`` (RFC 9162 §2.1.4.2); ConsistencyProofError if not.

    Refused: ``size1 > size2``; ``size1 = 0`` (a proof from the empty tree proves nothing);
    equal sizes with a non-empty proof or different roots; an empty proof otherwise.
    """
    what = f"consistency proof from size {size1} to size {size2}"
    if size1 < 0 or size1 > size2:
        raise ConsistencyProofError(f"{what}: size1 must be between 0 and size2")
    if size1 == 0:
        raise ConsistencyProofError(f"{what}: a proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ConsistencyProofError(f"{what}: equal sizes need an empty proof")
        if root1 != root2:
            raise ConsistencyProofError(
                f"{what}: equal sizes but different roots {root1.hex()} and {root2.hex()}"
            )
        return
    if not proof:
        raise ConsistencyProofError(f"{what}: the proof is empty")
    _check_hash(root1, what, "root1", ConsistencyProofError)
    _check_hash(root2, what, "root2", ConsistencyProofError)
    for position, element in enumerate(proof):
        _check_hash(element, what, f"proof hash {position}", ConsistencyProofError)
    # RFC 9162 §2.1.4.2, step by step.
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _consistency_length_error(what, len(proof), size1, size2)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _consistency_length_error(what, len(proof), size1, size2)
    if fr != root1:
        raise ConsistencyProofError(
            f"{what}: the proof leads to root1 {fr.hex()}, expected {root1.hex()}"
        )
    if sr != root2:
        raise ConsistencyProofError(
            f"{what}: the proof leads to root2 {sr.hex()}, expected {root2.hex()}"
        )


def inclusion_proof_length(index: int, tree_size: int) -> int:
    """How many hashes the inclusion proof of leaf ``index`` in ``tree_size`` leaves has."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of {tree_size} leaves")
    inner = (index ^ (tree_size - 1)).bit_length()  # levels below where the paths diverge
    return inner + (index >> inner).bit_count()  # plus left siblings on the right border


def consistency_proof_length(size1: int, size2: int) -> int:
    """How many hashes the consistency proof from ``size1`` to ``size2`` leaves has."""
    if not 1 <= size1 <= size2:
        raise ValueError(f"size1 {size1} is outside 1..{size2}")
    if size1 == size2:
        return 0
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits: the seed subtree's level
    seed = 0 if size1 == 1 << shift else 1  # root1 itself is the seed when size1 is 2^shift
    return seed + inclusion_proof_length(size1 - 1, size2) - shift


class CompactRange:
    """The roots of the perfect subtrees covering leaves ``0 … size-1``: a Merkle frontier.

    ``append`` is amortised O(1) hashes, memory is O(log n), and ``root()`` folds the
    frontier right to left. A sealer keeps a chain's tree this way without holding every
    leaf, and stores :meth:`frontier` so the tree can be resumed with :meth:`from_frontier`.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_frontier(cls, size: int, hashes: Iterable[bytes]) -> CompactRange:
        """Resume a tree of ``size`` leaves from its frontier; ProofError if they do not fit.

        The frontier of ``size`` leaves has one hash per set bit of ``size``, largest
        subtree (leftmost) first.
        """
        frontier = list(hashes)
        what = f"frontier of a tree of size {size}"
        if size < 0:
            raise ProofError(f"{what}: the size is negative")
        if len(frontier) != size.bit_count():
            raise ProofError(f"{what}: needs {size.bit_count()} hashes, got {len(frontier)}")
        for position, value in enumerate(frontier):
            _check_hash(value, what, f"hash {position}", ProofError)
        tree = cls()
        tree._size = size
        tree._hashes = frontier
        return tree

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash; ValueError if it is not 32 bytes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf)} bytes, not {HASH_SIZE}")
        hashes = self._hashes
        hashes.append(leaf)
        self._size += 1
        # Each trailing zero bit of the new size completes a perfect subtree: merge it.
        for _ in range((self._size & -self._size).bit_length() - 1):
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append every leaf hash of ``leaves`` in order."""
        for leaf in leaves:
            self.append(leaf)

    def frontier(self) -> tuple[bytes, ...]:
        """The perfect subtree roots, left (largest) to right (smallest)."""
        return tuple(self._hashes)

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange.from_frontier(self._size, self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH by levels: pair neighbours, carry an unpaired last node up unchanged."""
    if not leaf_hashes:
        return EMPTY_ROOT
    sha256, prefix = hashlib.sha256, _NODE_PREFIX
    level = leaf_hashes
    while len(level) > 1:
        # zip over one iterator twice pairs neighbours without index arithmetic; an odd
        # last node is left out here (strict=False) and carried up below.
        pairs = iter(level)
        paired = [
            sha256(prefix + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    if set(map(len, leaf_hashes)) <= {HASH_SIZE}:
        return
    position, value = next((i, h) for i, h in enumerate(leaf_hashes) if len(h) != HASH_SIZE)
    raise ValueError(f"leaf hash {position} is {len(value)} bytes, not {HASH_SIZE}")


def _check_hash(value: bytes, what: str, name: str, error: type[ProofError]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what}: {name} is {len(value)} bytes, not {HASH_SIZE}")


def _inclusion_length_error(what: str, got: int, index: int, tree_size: int) -> InclusionProofError:
    want = inclusion_proof_length(index, tree_size)
    return InclusionProofError(f"{what}: the proof has {got} hashes, the tree needs {want}")


def _consistency_length_error(what: str, got: int, size1: int, size2: int) -> ConsistencyProofError:
    want = consistency_proof_length(size1, size2)
    return ConsistencyProofError(f"{what}: the proof has {got} hashes, the trees need {want}")
