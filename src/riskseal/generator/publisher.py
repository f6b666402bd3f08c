"""The Kafka edge of the generator: generated events sent through an ``AuditClient``.

Requests go out with ``request_access`` and actions with ``emit_action``, carrying the
generated event id and simulated time, with the ground truth as Kafka headers; the SDK keys
each record by the actor's uid and stamps its own source (id, epoch, seq).
"""

from __future__ import annotations

from riskseal.contract.events import AccessRequest
from riskseal.generator.model import GeneratedEvent
from riskseal.generator.runner import Sink
from riskseal.sdk.client import AuditClient


def client_sink(client: AuditClient) -> Sink:
    """A sink that publishes each generated event with ``client``."""

    def send(generated: GeneratedEvent) -> None:
        event = generated.event
        if isinstance(event, AccessRequest):
            client.request_access(
                event.actor,
                event.action,
                event.resource,
                src_endpoint=event.src_endpoint,
                auth=event.auth,
                time_ms=event.time,
                event_id=event.event_id,
                session_id=event.session_id,
                device_id=event.device_id,
                trace_id=event.trace_id,
                attributes=event.attributes,
                headers=generated.headers(),
            )
        else:
            client.emit_action(
                event.actor,
                event.action,
                event.resource,
                event.outcome,
                src_endpoint=event.src_endpoint,
                auth=event.auth,
                status_detail=event.status_detail,
                request_id=event.request_id,
                time_ms=event.time,
                event_id=event.event_id,
                session_id=event.session_id,
                device_id=event.device_id,
                trace_id=event.trace_id,
                attributes=event.attributes,
                headers=generated.headers(),
            )

    return send
