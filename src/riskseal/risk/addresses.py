"""One spelling per source address, so that the engine and Cedar see an address as one.

The contract accepts any text ``ipaddress`` reads: ``2001:DB8::1`` and ``2001:db8::1``, or
``::ffff:203.0.113.7`` (an IPv4 client on a dual-stack socket) and ``203.0.113.7``, are the
same address, and Cedar's ``ip()`` refuses an IPv4-mapped or scoped (``fe80::1%eth0``) one.
"""

from __future__ import annotations

import functools
import ipaddress


@functools.lru_cache(maxsize=65_536)
def canonical_ip(text: str | None) -> str | None:
    """``text`` in its canonical spelling: compressed lowercase IPv6, an IPv4-mapped address
    as IPv4, no zone; None for None, and ``text`` unchanged when it is no address at all."""
    if text is None:
        return None
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return text  # the contract refuses it; Cedar will say so too (fail closed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
