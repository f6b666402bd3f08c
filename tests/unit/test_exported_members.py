"""The public API is what the packages export; changes to it are deliberate."""

from __future__ import annotations

import riskseal
import riskseal.stack


def test_top_level_exports() -> None:
    assert sorted(riskseal.__all__) == ["RiskSealError", "Settings", "__version__"]


def test_stack_exports() -> None:
    assert sorted(riskseal.stack.__all__) == [
        "LocalStack",
        "StackEndpoints",
        "StackPorts",
        "StackStatus",
        "find_free_ports",
    ]


def test_contract_exports() -> None:
    import riskseal.contract

    assert sorted(riskseal.contract.__all__) == sorted(
        [
            "AccessAction", "AccessRequest", "Actor", "Alert", "Analytic", "AuthContext",
            "Decision", "DecodedEvent", "Endpoint", "Event", "EventCodec", "EventSchema",
            "EventType", "Evidence", "Location", "Outcome", "Reason", "Resource", "RiskLevel",
            "SchemaSet", "Sensitivity", "Severity", "SourceStamp", "Verdict", "Versions",
            "default_schemas", "event_type_of", "typed_event",
        ]
    )  # fmt: skip


def test_sdk_exports() -> None:
    import riskseal.sdk

    assert sorted(riskseal.sdk.__all__) == [
        "AsyncAuditClient",
        "AuditClient",
        "DeliveryCallback",
        "DeliveryFailure",
        "default_source_id",
    ]
