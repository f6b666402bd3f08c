"""One spelling per source address."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskseal.risk.addresses import canonical_ip
from riskseal.risk.state import SignIn, UserState


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


def test_a_state_stored_with_other_spellings_reads_back_in_one() -> None:
    # States written before addresses were compared in one spelling.
    state = UserState("u")
    state.add_sign_in(SignIn(1, "::ffff:10.0.0.1", "DE", "d"))
    state.remember_value("ip", "2001:DB8::1", 5)
    state.remember_value("ip", "2001:db8::1", 7)
    read = UserState.from_bytes(state.to_bytes())
    assert [s.ip for s in read.sign_ins] == ["10.0.0.1"]
    assert {k: v for k, v in read.recent_values.items() if k.startswith("ip:")} == {
        "ip:2001:db8::1": 7
    }
