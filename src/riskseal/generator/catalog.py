"""The simulated company: departments, their roles, and the resources they work with.

Resource uids are stable names (``crm/accounts-emea``), so the same resource appears across
users and days, which is what per-resource baselines need. ``{region}`` in a template is the
user's sales region (amer, emea, apac).
"""

from __future__ import annotations

from dataclasses import dataclass

from riskseal.contract.events import Resource, Sensitivity

PUBLIC = Sensitivity.PUBLIC
INTERNAL = Sensitivity.INTERNAL
CONFIDENTIAL = Sensitivity.CONFIDENTIAL
RESTRICTED = Sensitivity.RESTRICTED
SENSITIVE = frozenset({CONFIDENTIAL, RESTRICTED})
"""Sensitivities whose reads and exports count as sensitive (exfiltration targets)."""

ADMIN_ROLE = "admin"
MANAGER_ROLE = "manager"

SSO_APP = Resource("app", "sso", owner="it", sensitivity=INTERNAL)
"""What auth.login, auth.mfa and auth.logout act on."""


@dataclass(frozen=True, slots=True)
class Department:
    """A department: its share of the staff, the role every member has, and its resources."""

    name: str
    weight: int
    role: str
    always_mfa: bool
    templates: tuple[tuple[str, str, Sensitivity], ...]

    def resources(self, region: str) -> tuple[Resource, ...]:
        """The department's resources for a member in ``region``."""
        return tuple(
            Resource(kind, uid.format(region=region), owner=self.name, sensitivity=sensitivity)
            for kind, uid, sensitivity in self.templates
        )


DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "sales", 26, "sales", False,
        (
            ("crm", "accounts-{region}", CONFIDENTIAL),
            ("report", "pipeline-{region}", CONFIDENTIAL),
            ("document", "price-list-2025", CONFIDENTIAL),
            ("document", "sales-playbook", INTERNAL),
            ("document", "customer-contracts-{region}", RESTRICTED),
            ("app", "quote-tool", INTERNAL),
        ),
    ),
    Department(
        "engineering", 30, "engineering", False,
        (
            ("repo", "payments-service", CONFIDENTIAL),
            ("repo", "web-frontend", INTERNAL),
            ("repo", "mobile-app", INTERNAL),
            ("wiki", "engineering", INTERNAL),
            ("app", "ci", INTERNAL),
            ("dashboard", "production-metrics", INTERNAL),
            ("document", "architecture-decisions", INTERNAL),
            ("secret", "prod-db-credentials", RESTRICTED),
        ),
    ),
    Department(
        "support", 16, "support", False,
        (
            ("ticket", "queue-{region}", INTERNAL),
            ("crm", "customer-contacts-{region}", CONFIDENTIAL),
            ("wiki", "support-kb", INTERNAL),
            ("app", "status-page", PUBLIC),
            ("document", "escalation-runbook", INTERNAL),
        ),
    ),
    Department(
        "finance", 11, "finance", True,
        (
            ("ledger", "general-ledger", RESTRICTED),
            ("report", "budget-fy25", CONFIDENTIAL),
            ("report", "payroll-2025", RESTRICTED),
            ("report", "revenue-{region}", CONFIDENTIAL),
            ("app", "invoicing", CONFIDENTIAL),
            ("document", "expense-policy", INTERNAL),
        ),
    ),
    Department(
        "hr", 8, "hr", True,
        (
            ("record", "employee-records", RESTRICTED),
            ("report", "salary-bands", RESTRICTED),
            ("document", "performance-reviews", RESTRICTED),
            ("app", "recruiting", CONFIDENTIAL),
            ("document", "benefits-{region}", INTERNAL),
        ),
    ),
    Department(
        "it", 9, ADMIN_ROLE, True,
        (
            ("app", "admin-console", RESTRICTED),
            ("config", "sso-policy", RESTRICTED),
            ("config", "firewall-rules", RESTRICTED),
            ("config", "mdm-profiles", CONFIDENTIAL),
            ("dashboard", "siem", CONFIDENTIAL),
            ("document", "it-runbooks", INTERNAL),
        ),
    ),
)  # fmt: skip

SHARED: tuple[Resource, ...] = (
    Resource("app", "mail", owner="it", sensitivity=INTERNAL),
    Resource("app", "chat", owner="it", sensitivity=INTERNAL),
    Resource("wiki", "intranet", owner="it", sensitivity=INTERNAL),
    Resource("document", "employee-handbook", owner="hr", sensitivity=PUBLIC),
    Resource("document", "org-chart", owner="hr", sensitivity=INTERNAL),
)
"""Resources every employee uses."""

CONFIG_RESOURCES: tuple[Resource, ...] = tuple(
    resource for resource in DEPARTMENTS[-1].resources("global") if resource.type == "config"
)
"""What admin.config acts on."""


def role_resource(role: str) -> Resource:
    """The resource of role.grant / role.revoke for ``role``."""
    return Resource("role", role, owner="it", sensitivity=RESTRICTED)


def team_document(department: str, region: str, number: int, sensitive: bool) -> Resource:
    """One of a team's many working documents."""
    return Resource(
        "document",
        f"{department}-{region}-{number:03d}",
        owner=department,
        sensitivity=CONFIDENTIAL if sensitive else INTERNAL,
    )


def bulk_record(owner: str, number: int, restricted: bool) -> Resource:
    """One of the many records an exfiltration sweeps through (customer or HR files)."""
    kind = "contract" if restricted else "customer"
    return Resource(
        "record",
        f"{kind}-{number:05d}",
        owner=owner,
        sensitivity=RESTRICTED if restricted else CONFIDENTIAL,
    )
