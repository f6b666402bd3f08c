"""Two small pages on a worker's web server (127.0.0.1 only): readiness and one user's state.

* ``GET /risk/ready/`` answers 200 once the worker has joined its group, recovered its
  tables and resumed its streams, 503 before that and during a rebalance; the JSON body
  lists the partitions it processes and what it still has to send (``{"ready": true,
  "rebalances": 2, "partitions": {"access.requests": [0, 2], ...}, "outputs": {"waiting":
  0, "failing_for_s": null}}``; a growing ``failing_for_s`` means decisions, alerts or dead
  letters cannot be sent).
* ``GET /risk/users/{user_id}/state/`` returns the user's newest state
  (``UserState.to_bytes()``, including changes not yet written to the ``users`` table), or
  404 when this worker does not hold that user.
  For operators and tests: it shows exactly what the engine will start from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, cast

import faust
from faust.web import Request, Response, View

from riskseal.risk.topics import RiskTopics

READY_PATH = "/risk/ready/"
USER_STATE_PATH = "/risk/users/{user_id}/state/"


def register_pages(
    app: faust.App,
    topics: RiskTopics,
    newest_state: Callable[[str], bytes | None],
    output_status: Callable[[], Mapping[str, object]],
) -> None:
    """Add the readiness and user-state pages to ``app``'s web server; ``newest_state`` gives
    a user's newest state bytes (:meth:`~riskseal.risk.agents.RiskProcessor.user_state`),
    ``output_status`` what is left to send
    (:meth:`~riskseal.risk.agents.RiskProcessor.output_status`)."""
    streamed = {
        topic.get_topic_name() for topic in (topics.requests, topics.actions, topics.ip_failures)
    }

    async def ready(view: View, request: Request) -> Response:
        recovery = cast(Any, app.tables).recovery
        is_ready = bool(recovery.completed.is_set()) and not app.rebalancing
        partitions: dict[str, list[int]] = defaultdict(list)
        if is_ready:
            for tp in app.consumer.assignment():
                if tp.topic in streamed:
                    partitions[tp.topic].append(tp.partition)
        body = {
            "ready": is_ready,
            "rebalances": app.rebalancing_count,
            "partitions": {topic: sorted(numbers) for topic, numbers in partitions.items()},
            "outputs": dict(output_status()),
        }
        return view.json(body, status=200 if is_ready else 503)

    async def user_state(view: View, request: Request, user_id: str) -> Response:
        value = newest_state(user_id)
        if value is None:
            return view.error(404, f"no state for user {user_id!r} on this worker")
        return view.bytes(value, content_type="application/octet-stream")

    app.page(READY_PATH, name="risk-ready")(ready)
    app.page(USER_STATE_PATH, name="risk-user-state")(user_state)
