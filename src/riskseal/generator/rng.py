"""Deterministic randomness: every random choice of the generator derives from the seed.

Each part of a run (a user's habits, one session, one attack) gets its own
``random.Random`` seeded from SHA-256 of ``"<seed>/<label>/…"``. Parts therefore do not
disturb each other: adding a user or an attack does not change the sessions of the others,
and the order in which the stream is consumed does not matter. Ids are UUIDs drawn from these
generators, never from the OS. This is simulation, not cryptography.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid


def derive(seed: int, *labels: object) -> random.Random:
    """An independent random generator for the part of a run named by ``labels``."""
    text = "/".join([str(seed), *(str(label) for label in labels)])
    digest = hashlib.sha256(text.encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - simulation only


def uuid4_from(rng: random.Random) -> str:
    """A version-4 UUID string made of 122 bits of ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def hex_from(rng: random.Random, digits: int) -> str:
    """``digits`` lower-case hex digits from ``rng``."""
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def exponential_ms(rng: random.Random, mean_ms: float) -> int:
    """An exponentially distributed duration in ms with the given mean (memoryless gaps)."""
    return int(-mean_ms * math.log(1.0 - rng.random()))


def between_ms(rng: random.Random, low_ms: int, high_ms: int) -> int:
    """A uniformly distributed integer in ``[low_ms, high_ms]``."""
    return rng.randint(low_ms, high_ms)
