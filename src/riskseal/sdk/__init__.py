"""The producer SDK: publish access requests and actions, ask for decisions."""

from riskseal.sdk.aio import AsyncAuditClient
from riskseal.sdk.client import AuditClient, default_source_id
from riskseal.sdk.delivery import DeliveryCallback, DeliveryFailure

__all__ = [
    "AsyncAuditClient",
    "AuditClient",
    "DeliveryCallback",
    "DeliveryFailure",
    "default_source_id",
]
