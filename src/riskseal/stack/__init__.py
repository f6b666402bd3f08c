"""The local real stack: a Kafka-protocol broker and S3 with Object Lock, as processes."""

from riskseal.stack.local import LocalStack, StackEndpoints, StackStatus
from riskseal.stack.ports import StackPorts, find_free_ports

__all__ = ["LocalStack", "StackEndpoints", "StackPorts", "StackStatus", "find_free_ports"]
