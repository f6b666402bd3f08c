"""``AsyncAuditClient``: the asyncio twin of AuditClient.

Example::

    async with AsyncAuditClient(Settings.from_env()) as client:
        decisions = await asyncio.gather(
            *(client.authorize(Actor(user), "data.read", doc) for user in users)
        )

Publishing never blocks the event loop unless ``sdk_on_buffer_full=block``, in which case
it runs in a worker thread. Waiting for a decision is a plain asyncio future resolved by the
client's one shared reply consumer.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

from riskseal.contract.events import (
    AccessAction,
    AccessRequest,
    Actor,
    Decision,
    Outcome,
    Resource,
    new_event_id,
)
from riskseal.contract.registry import RegistryClient
from riskseal.sdk.client import AuditClient, authorize_wait_s, wait_limit
from riskseal.sdk.delivery import DeliveryCallback, DeliveryFailure
from riskseal.settings import Settings


class AsyncAuditClient:
    """AuditClient for asyncio applications; methods mirror the synchronous ones."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_delivery: DeliveryCallback | None = None,
        schema_registry: RegistryClient | None = None,
    ) -> None:
        """See :class:`AuditClient`."""
        self.sync = AuditClient(settings, on_delivery=on_delivery, schema_registry=schema_registry)
        self._replies_started = False

    async def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        if self.sync.settings.sdk_on_buffer_full == "block":
            return await asyncio.to_thread(function, *args, **kwargs)
        return function(*args, **kwargs)

    async def request_access(
        self, actor: Actor | str, action: str, resource: Resource, **fields: Any
    ) -> AccessRequest:
        """See :meth:`AuditClient.request_access`."""
        result: AccessRequest = await self._call(
            self.sync.request_access, actor, action, resource, **fields
        )
        return result

    async def emit_action(
        self, actor: Actor | str, action: str, resource: Resource, outcome: Outcome,
        **fields: Any,
    ) -> AccessAction:  # fmt: skip
        """See :meth:`AuditClient.emit_action`."""
        result: AccessAction = await self._call(
            self.sync.emit_action, actor, action, resource, outcome, **fields
        )
        return result

    async def authorize(
        self,
        actor: Actor | str,
        action: str,
        resource: Resource,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> Decision:
        """See :meth:`AuditClient.authorize`; waits without blocking the event loop.

        However the call ends without a decision (timeout, cancellation, an error), it stops
        waiting for one.
        """
        wait_s = authorize_wait_s(timeout, self.sync.settings.authorize_timeout_s)
        event_id = fields.pop("event_id", None) or new_event_id()
        if not self._replies_started:  # it talks to the broker: never on the event loop
            await asyncio.to_thread(self.sync.start_replies)
            self._replies_started = True
        pending = self.sync.expect_decision(event_id)
        try:
            future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
            pending.future = future
            if pending.decision is not None and not future.done():  # resolved before attached
                future.set_result(pending.decision)
            request = await self.request_access(
                actor, action, resource, event_id=event_id, **fields
            )
            try:
                return await asyncio.wait_for(future, wait_limit(wait_s))
            except TimeoutError:
                pass
        except BaseException:  # cancelled, or failed: nobody waits for the decision any more
            self.sync.forget_decision(event_id)
            raise
        self.sync.forget_decision(event_id)
        return self.sync.fallback_decision(request, wait_s)

    async def flush(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        """See :meth:`AuditClient.flush`."""
        return await asyncio.to_thread(self.sync.flush, timeout)

    async def close(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        """See :meth:`AuditClient.close`."""
        return await asyncio.to_thread(self.sync.close, timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
