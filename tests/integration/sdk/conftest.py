"""A stand-in for the risk processor on the session stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from riskseal.sdk.responder import StaticResponder
from tests.integration.conftest import RealStack


@pytest.fixture
def responder(real_stack: RealStack) -> Iterator[StaticResponder]:
    """Answers every access request: DENY for deny-*, STEP_UP for step-*, else ALLOW."""
    with StaticResponder(real_stack.settings) as answering:
        yield answering
