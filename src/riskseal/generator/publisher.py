"""The Kafka edge of the generator: generated events sent through an ``AuditClient``.

Each event goes out with ``AuditClient.publish`` as generated (its event id and simulated
time included), with the ground truth as Kafka headers; the SDK keys each record by the
actor's uid and stamps its own source (id, epoch, seq).
"""

from __future__ import annotations

from riskseal.generator.model import GeneratedEvent
from riskseal.generator.runner import Sink
from riskseal.sdk.client import AuditClient


def client_sink(client: AuditClient) -> Sink:
    """A sink that publishes each generated event with ``client``."""

    def send(generated: GeneratedEvent) -> None:
        client.publish(generated.event, generated.headers())

    return send
