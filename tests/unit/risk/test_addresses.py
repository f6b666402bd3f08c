"""One spelling per source address."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskseal.risk.addresses import canonical_ip


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        (None, None),
        ("not an address", "not an address"),
    ],
)
def test_every_spelling_of_an_address_is_one(text: str | None, canonical: str | None) -> None:
    assert canonical_ip(text) == canonical


@given(st.ip_addresses())
def test_the_canonical_spelling_is_the_same_address_and_stays_put(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    once = canonical_ip(address.exploded.upper())
    assert once is not None and canonical_ip(once) == once
    mapped = getattr(address, "ipv4_mapped", None)
    assert ipaddress.ip_address(once) == (mapped or address)
