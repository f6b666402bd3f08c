"""Which ports the local stack listens on, and whether they are free."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from pathlib import Path

from riskseal.errors import PortInUseError, StackError

# SeaweedFS `weed mini` runs several servers; each gets an explicit port, because a busy
# default port is silently moved to the next free one, which would break our endpoints.
WEED_INTERNAL_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True, slots=True)
class StackPorts:
    """The ports of one local stack: Kafka, S3, and SeaweedFS's internal servers."""

    kafka: int
    s3: int

    @property
    def weed_internal(self) -> dict[str, int]:
        """``weed mini`` port flags of the internal servers, on the ports after the S3 port."""
        return {flag: self.s3 + 1 + i for i, flag in enumerate(WEED_INTERNAL_FLAGS)}

    def all(self) -> dict[str, int]:
        """Every port with the service that uses it."""
        return {
            "kafka": self.kafka,
            "s3": self.s3,
            **{f"seaweedfs -{flag}": port for flag, port in self.weed_internal.items()},
        }


def port_is_free(host: str, port: int) -> bool:
    """True when a server could bind ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Servers set SO_REUSEADDR, so a port held only by TIME_WAIT sockets is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def ensure_ports_free(host: str, ports: StackPorts) -> None:
    """Raise PortInUseError naming the first port that is already taken; StackError when
    two servers of the stack would share one (SeaweedFS takes the 9 ports after S3's)."""
    taken: dict[int, str] = {}
    for service, port in ports.all().items():
        if port in taken:
            raise StackError(
                f"port {port} would serve both {taken[port]} and {service}: SeaweedFS uses "
                f"the {len(WEED_INTERNAL_FLAGS)} ports after the S3 port; choose a Kafka port "
                f"outside {ports.s3}..{ports.s3 + len(WEED_INTERNAL_FLAGS)}"
            )
        taken[port] = service
    for service, port in ports.all().items():
        if not port_is_free(host, port):
            raise PortInUseError(service, host, port)


def find_free_ports(host: str = "127.0.0.1", attempts: int = 200) -> StackPorts:
    """Pick a Kafka port and a block of S3 + internal ports that are all free now.

    They are taken below the kernel's ephemeral range when there is room: a port in it can
    be taken by any outgoing connection (our own Kafka clients') between this check and
    the server's bind ("address already in use")."""
    rng = random.SystemRandom()
    block = 1 + len(WEED_INTERNAL_FLAGS)
    low, high = 20_000, 60_000 - block
    ephemeral_start = _ephemeral_ports_start()
    if ephemeral_start is not None and ephemeral_start - 1_000 > low + block:
        high = ephemeral_start - block - 1
    for _ in range(attempts):
        s3 = rng.randrange(low, high)
        kafka = s3 + block
        candidate = StackPorts(kafka=kafka, s3=s3)
        if all(port_is_free(host, port) for port in candidate.all().values()):
            return candidate
    raise StackError(f"found no block of {block + 1} free ports on {host} in {attempts} tries")


def _ephemeral_ports_start() -> int | None:
    """The first port of the kernel's ephemeral range (Linux), or None when unknown."""
    try:
        first = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None
