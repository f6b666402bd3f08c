"""Generated events as JSON lines: the input format of ``riskseal emit``.

One compact JSON object per line. ``"kind"`` is ``"request"`` or ``"action"``; the other
keys without a leading underscore are the event's fields exactly as in the Avro contract
(``docs/events.md``), except ``source``, which the publishing SDK stamps. The ground truth is
kept outside the event: ``"_truth"`` is the label and, for attack events,
``"_headers": {"riskseal-attack-id": "<uuid>"}``. ``riskseal emit`` turns both into the
Kafka headers ``riskseal-truth`` and ``riskseal-attack-id``::

    {"kind":"action","event_id":"…","time":1736150400000,"actor":{"uid":"ada.smith",…},
     …,"action":"auth.login",…,"outcome":"FAILURE","status_detail":"bad_password",…,
     "_truth":"credential_stuffing","_headers":{"riskseal-attack-id":"…"}}
"""

from __future__ import annotations

import json
from typing import Any

from riskseal.generator.model import ATTACK_ID_HEADER, GeneratedEvent


def to_document(generated: GeneratedEvent) -> dict[str, Any]:
    """The JSON object of one generated event."""
    record = generated.event.to_record()
    del record["source"]
    document: dict[str, Any] = {"kind": generated.kind, **record, "_truth": generated.truth}
    if generated.attack_id is not None:
        document["_headers"] = {ATTACK_ID_HEADER: generated.attack_id}
    return document


def to_json_line(generated: GeneratedEvent) -> str:
    """One line (without the newline) for ``riskseal emit``."""
    return json.dumps(to_document(generated), ensure_ascii=False, separators=(",", ":"))
