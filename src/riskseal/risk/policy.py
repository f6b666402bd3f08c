"""The Cedar policy layer of the risk processor: is this request permitted, at this risk?

A policy directory holds the schema (``riskseal.cedarschema``), the policies (``*.cedar``,
every policy with a unique ``@id``) and optionally the static entities (``entities.json``);
``docs/POLICIES.md`` explains how to write them. :meth:`PolicyEngine.load` parses and
validates them once; :meth:`PolicyEngine.evaluate` and :meth:`PolicyEngine.evaluate_batch`
decide requests with the parsed handles; :meth:`PolicyEngine.reload` swaps in a changed
directory, or keeps the active set when the new files are refused.

Verdicts: Cedar's Allow is ALLOW. A Deny whose determining policies are all forbids with an
``@id("step_up:...")`` is STEP_UP, provided a permit matches once those forbids are lifted
(otherwise a step-up could never succeed, and the verdict is DENY ``default_deny``). Any
other Deny is DENY with the ids of the forbids that matched, or ``default_deny`` when no
permit matched. Decisions that Cedar could not make fail closed: an action the schema does
not declare is DENY ``unknown_action`` (Cedar is not asked), a request Cedar cannot build
is DENY ``invalid_request``, and an Allow reached while some policy raised an evaluation
error is DENY ``evaluation_error`` (a forbid that errors is skipped by Cedar).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Self

import cedarpy

from riskseal.contract.events import AccessRequest, Verdict
from riskseal.errors import PolicyLoadError
from riskseal.risk.addresses import canonical_ip
from riskseal.risk.entities import (
    ACTION,
    RESOURCE,
    USER,
    EntityBuilder,
    StaticEntities,
    resource_entity_id,
)

SCHEMA_FILE = "riskseal.cedarschema"
ENTITIES_FILE = "entities.json"
POLICY_SUFFIX = ".cedar"
STEP_UP_PREFIX = "step_up:"

DEFAULT_DENY = "default_deny"
"""No permit matched."""
UNKNOWN_ACTION = "unknown_action"
"""The action is not declared (as a requestable action) in the schema."""
INVALID_REQUEST = "invalid_request"
"""Cedar could not build the request (a context value of the wrong type, a bad IP)."""
EVALUATION_ERROR = "evaluation_error"
"""Cedar allowed, but a policy raised an error and was skipped: fail closed."""
SYNTHETIC_IDS = frozenset({DEFAULT_DENY, UNKNOWN_ACTION, INVALID_REQUEST, EVALUATION_ERROR})

_POLICY_REF = re.compile(r"policy\d+")

MFA_CLOCK_SKEW_MS = 60_000
"""How much later than its request an MFA time may be (clocks of two systems) and count."""

ENTITY_CACHE_SIZE = 4_096
"""Entity sets kept per policy set (least recently used dropped first)."""

CONTEXT_SHAPES = ((True, True), (True, False), (False, True), (False, False))
"""The shapes of riskseal's context: (has an ``ip``, has an ``mfa_age_s``)."""


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    """Everything Cedar needs for one access request."""

    user_id: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    action: str
    resource_type: str
    resource_id: str
    resource_owner: str | None
    sensitivity: str
    risk_score: int
    risk_level: str
    """Band of ``risk_score`` alone: ``allow``, ``step_up`` or ``deny``."""
    reasons: tuple[str, ...]
    ip: str | None
    event_time: int
    mfa_age_s: int | None
    """Seconds since the last MFA; None when the session never did MFA."""
    device_known: bool
    is_mfa: bool

    @classmethod
    def from_request(
        cls,
        request: AccessRequest,
        *,
        risk_score: int,
        risk_level: str,
        reasons: Sequence[str],
        device_known: bool,
    ) -> Self:
        """The policy view of ``request`` with its risk; the MFA age is taken at its time.

        An MFA dated more than :data:`MFA_CLOCK_SKEW_MS` after the request is not believed
        (no MFA age): it would read as an MFA done just now, and lift a step-up."""
        mfa_time = request.auth.mfa_time
        if mfa_time is not None and mfa_time > request.time + MFA_CLOCK_SKEW_MS:
            mfa_time = None
        return cls(
            user_id=request.actor.uid,
            roles=request.actor.roles,
            groups=request.actor.groups,
            action=request.action,
            resource_type=request.resource.type,
            resource_id=request.resource.uid,
            resource_owner=request.resource.owner,
            sensitivity=str(request.resource.sensitivity),
            risk_score=risk_score,
            risk_level=risk_level,
            reasons=tuple(reasons),
            ip=canonical_ip(request.src_endpoint.ip),
            event_time=request.time,
            mfa_age_s=None if mfa_time is None else max(0, request.time - mfa_time) // 1000,
            device_known=device_known,
            is_mfa=request.auth.is_mfa,
        )

    def context(self) -> dict[str, Any]:
        """The Cedar ``context`` record (JSON form)."""
        context: dict[str, Any] = {
            "risk_score": self.risk_score,
            "risk_level": self.risk_level,
            "reasons": list(self.reasons),
            "event_time": self.event_time,
            "device_known": self.device_known,
            "is_mfa": self.is_mfa,
        }
        if self.ip is not None:
            context["ip"] = {"__extn": {"fn": "ip", "arg": self.ip}}
        if self.mfa_age_s is not None:
            context["mfa_age_s"] = self.mfa_age_s
        return context


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """What the policies decided, the ``@id`` of the policies that decided it, and errors."""

    verdict: Verdict
    policy_ids: tuple[str, ...]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyFiles:
    """The raw contents of a policy directory, and their versions."""

    directory: Path
    schema: str
    policies: tuple[tuple[str, str], ...]
    """(file name, text) of every ``*.cedar`` file, sorted by name."""
    entities: str
    version: str
    entities_version: str

    @classmethod
    def read(cls, directory: Path) -> Self:
        """Read the directory. ``version`` covers the schema and the policy files:
        SHA-256 over ``riskseal-policies-v1`` and, for the schema and then each policy file
        in name order, the UTF-8 name and the file's bytes, each preceded by its length as 4
        big-endian bytes. ``entities_version`` is the SHA-256 of the entities file's bytes (of
        no bytes when there is none).
        """
        try:
            schema = (directory / SCHEMA_FILE).read_bytes()
            files = sorted(p for p in directory.glob(f"*{POLICY_SUFFIX}") if p.is_file())
            policies = [(p.name, p.read_bytes()) for p in files]
            entities_path = directory / ENTITIES_FILE
            entities = entities_path.read_bytes() if entities_path.exists() else b""
            texts = [data.decode() for data in (schema, entities, *(d for _, d in policies))]
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyLoadError(f"{directory}: cannot read the policy directory: {exc}") from exc
        digest = hashlib.sha256(b"riskseal-policies-v1")
        for name, data in ((SCHEMA_FILE, schema), *policies):
            for part in (name.encode(), data):
                digest.update(len(part).to_bytes(4, "big") + part)
        return cls(
            directory=directory,
            schema=texts[0],
            policies=tuple(
                (name, text) for (name, _), text in zip(policies, texts[2:], strict=True)
            ),
            entities=texts[1],
            version=f"sha256:{digest.hexdigest()}",
            entities_version=f"sha256:{hashlib.sha256(entities).hexdigest()}",
        )


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A loaded, validated policy directory: parsed handles, ready to evaluate."""

    files: PolicyFiles
    schema: cedarpy.Schema
    policies: cedarpy.PolicySet
    without_step_up: cedarpy.PolicySet
    """The set minus its step-up forbids: would a step-up lead anywhere?"""
    ids: dict[str, str]
    """Cedar's positional policy id -> ``@id`` annotation."""
    static: StaticEntities
    builder: EntityBuilder
    actions: frozenset[str]
    """Actions a request may name."""
    refused_shapes: dict[str, frozenset[tuple[bool, bool]]]
    """Action -> the shapes of riskseal's context the schema refuses for it, as (has an
    ``ip``, has an ``mfa_age_s``): requests are not checked against the schema one by one."""
    entity_cache: OrderedDict[str, cedarpy.Entities] = field(default_factory=OrderedDict)
    """Entity sets by the JSON of the request entities added to the static ones: building
    one costs more than the evaluation, and users keep asking about the same resources."""

    def entities_for(self, added: str, *, remember: bool = True) -> cedarpy.Entities:
        """The static entities plus ``added`` (a JSON list), built once per distinct list;
        not kept when ``remember`` is false (a list that will not come again)."""
        entities = self.entity_cache.get(added)
        if entities is None:
            entities = self.static.base.with_added_json_str(added)  # ValueError when invalid
            if not remember:
                return entities
            self.entity_cache[added] = entities
            if len(self.entity_cache) > ENTITY_CACHE_SIZE:
                self.entity_cache.popitem(last=False)
        else:
            self.entity_cache.move_to_end(added)
        return entities


def _compile(files: PolicyFiles) -> _Compiled:
    schema_path = str(files.directory / SCHEMA_FILE)
    try:
        schema = cedarpy.Schema.from_str(files.schema)
    except ValueError as exc:
        raise PolicyLoadError(f"{schema_path}: {exc}") from exc
    if not files.policies:
        raise PolicyLoadError(f"{files.directory}: no *{POLICY_SUFFIX} policy files")
    owner: dict[str, str] = {}
    for name, text in files.policies:
        path = str(files.directory / name)
        try:
            est = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as exc:
            raise PolicyLoadError(f"{path}: {exc}") from exc
        result = cedarpy.validate_policies(text, schema)
        if not result.validation_passed:
            names = result.id_annotations_by_policy_id
            detail = "; ".join(_named(str(error), names) for error in result.errors)
            raise PolicyLoadError(f"{path}: {detail}")
        for policy in est["staticPolicies"].values():
            policy_id = _check_id(path, policy)
            if policy_id in owner:
                raise PolicyLoadError(f'{path}: @id("{policy_id}") is also in {owner[policy_id]}')
            owner[policy_id] = path
    text = "\n".join(text for _, text in files.policies)
    est = json.loads(cedarpy.policies_to_json_str(text))
    ids = {key: policy["annotations"]["id"] for key, policy in est["staticPolicies"].items()}
    kept = {key: p for key, p in est["staticPolicies"].items() if not _is_step_up(p)}
    static = StaticEntities.parse(files.entities, schema, str(files.directory / ENTITIES_FILE))
    policies = cedarpy.PolicySet.from_str(text)
    actions, refused = _requestable_actions(static, policies, schema)
    return _Compiled(
        files=files,
        schema=schema,
        policies=policies,
        without_step_up=cedarpy.PolicySet.from_json_str(
            json.dumps({**est, "staticPolicies": kept})
        ),
        ids=ids,
        static=static,
        builder=EntityBuilder(static),
        actions=actions,
        refused_shapes=refused,
    )


def _check_id(path: str, policy: dict[str, Any]) -> str:
    policy_id = policy.get("annotations", {}).get("id")
    if not policy_id:
        raise PolicyLoadError(f'{path}: every policy needs an @id("..."); one has none')
    if policy_id in SYNTHETIC_IDS:
        raise PolicyLoadError(f'{path}: @id("{policy_id}") is reserved for riskseal\'s own use')
    if policy_id.startswith(STEP_UP_PREFIX) and policy["effect"] != "forbid":
        raise PolicyLoadError(f'{path}: @id("{policy_id}"): step_up ids are for forbid policies')
    return str(policy_id)


def _is_step_up(policy: dict[str, Any]) -> bool:
    return bool(policy["annotations"]["id"].startswith(STEP_UP_PREFIX))


def _requestable_actions(
    static: StaticEntities, policies: cedarpy.PolicySet, schema: cedarpy.Schema
) -> tuple[frozenset[str], dict[str, frozenset[tuple[bool, bool]]]]:
    """The actions Cedar accepts in a request with riskseal's whole context (not the
    groups), and for each the shapes of that context (without ``ip``, without
    ``mfa_age_s``) the schema refuses: a schema that makes them required."""
    names = sorted(static.action_ids)
    accepted: dict[tuple[bool, bool], set[str]] = {}
    for shape in CONTEXT_SHAPES:
        has_ip, has_mfa = shape
        probe = PolicyRequest(
            "probe", (), (), "", "probe", "probe", None, "PUBLIC", 0, "allow", (),
            "127.0.0.1" if has_ip else None, 0, 0 if has_mfa else None, True, True,
        )  # fmt: skip
        requests = [_cedar_request(probe, action) for action in names]
        results = cedarpy.is_authorized_batch(requests, policies, static.base, schema=schema)
        accepted[shape] = {
            name
            for name, result in zip(names, results, strict=True)
            if result.decision != cedarpy.Decision.NoDecision
        }
    whole = accepted[(True, True)]
    refused = {
        name: frozenset(shape for shape in CONTEXT_SHAPES if name not in accepted[shape])
        for name in whole
    }
    return frozenset(whole), {name: shapes for name, shapes in refused.items() if shapes}


def _cedar_request(request: PolicyRequest, action: str | None = None) -> dict[str, Any]:
    return {
        "principal": {"type": USER, "id": request.user_id},
        "action": {"type": ACTION, "id": request.action if action is None else action},
        "resource": {
            "type": RESOURCE,
            "id": resource_entity_id(request.resource_type, request.resource_id),
        },
        "context": request.context(),
    }


def shipped_policies() -> Path:
    """The directory of the policies shipped with riskseal."""
    return Path(str(resources.files("riskseal.risk") / "policies"))


class PolicyEngine:
    """A loaded policy directory that decides access requests; reloadable.

    ``evaluate`` and ``evaluate_batch`` may run while another thread reloads: each call
    uses the set that was active when it started.
    """

    def __init__(self, compiled: _Compiled) -> None:
        self._compiled = compiled
        self._reload_lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path | None = None) -> Self:
        """Load and validate ``directory`` (None: the shipped policies).

        Raises :class:`PolicyLoadError` naming the file and carrying Cedar's message when a
        file does not parse or a policy does not validate against the schema.
        """
        return cls(_compile(PolicyFiles.read(directory or shipped_policies())))

    @property
    def directory(self) -> Path:
        """The policy directory."""
        return self._compiled.files.directory

    @property
    def version(self) -> str:
        """``sha256:<hex>`` of the active schema and policy files (see :class:`PolicyFiles`)."""
        return self._compiled.files.version

    @property
    def entities_version(self) -> str:
        """``sha256:<hex>`` of the active entities file."""
        return self._compiled.files.entities_version

    @property
    def actions(self) -> frozenset[str]:
        """The actions a request may name; any other is denied as ``unknown_action``."""
        return self._compiled.actions

    def reload(self) -> bool:
        """Re-read the directory; True when a changed set became active.

        Raises :class:`PolicyLoadError` when the changed files are refused; the active set
        then stays active, and the next reload tries again.
        """
        with self._reload_lock:
            files = PolicyFiles.read(self.directory)
            active = self._compiled.files
            if (files.version, files.entities_version) == (
                active.version,
                active.entities_version,
            ):
                return False
            self._compiled = _compile(files)
            return True

    def evaluate(self, request: PolicyRequest) -> PolicyDecision:
        """Decide one request."""
        return self.evaluate_batch((request,))[0]

    def evaluate_batch(self, requests: Sequence[PolicyRequest]) -> list[PolicyDecision]:
        """Decide many requests with as few Cedar calls as possible; same results as
        :meth:`evaluate` on each, in order.

        Requests go to Cedar in runs whose users and resources agree (one user may carry
        other roles in a later request); each run is one ``is_authorized_batch`` call.
        """
        compiled = self._compiled
        decisions: list[PolicyDecision | None] = [None] * len(requests)
        run: list[int] = []
        fragments: dict[tuple[str, str], str] = {}
        for index, request in enumerate(requests):
            if request.action not in compiled.actions:
                decisions[index] = PolicyDecision(
                    Verdict.DENY,
                    (UNKNOWN_ACTION,),
                    (f"action {request.action!r} is not declared in {SCHEMA_FILE}",),
                )
                continue
            refused = compiled.refused_shapes.get(request.action)
            if refused and (request.ip is not None, request.mfa_age_s is not None) in refused:
                decisions[index] = PolicyDecision(
                    Verdict.DENY, (INVALID_REQUEST,), (_refused_context(request),)
                )
                continue
            user_key = (USER, request.user_id)
            user = compiled.builder.user_json(request.user_id, request.roles, request.groups)
            resource_id = resource_entity_id(request.resource_type, request.resource_id)
            resource_key = (RESOURCE, resource_id)
            resource = compiled.builder.resource_json(
                resource_id, request.resource_type, request.resource_owner, request.sensitivity
            )
            if fragments.get(user_key, user) != user or (
                resource is not None and fragments.get(resource_key, resource) != resource
            ):
                _decide_run(compiled, requests, run, fragments, decisions)
                run, fragments = [], {}
            fragments[user_key] = user
            if resource is not None:
                fragments[resource_key] = resource
            run.append(index)
        _decide_run(compiled, requests, run, fragments, decisions)
        return [decision for decision in decisions if decision is not None]


def _decide_run(
    compiled: _Compiled,
    requests: Sequence[PolicyRequest],
    run: Sequence[int],
    fragments: dict[tuple[str, str], str],
    decisions: list[PolicyDecision | None],
) -> None:
    """Decide ``requests[i]`` for ``i`` in ``run`` into ``decisions[i]``."""
    if not run:
        return
    try:
        # The entities of one user and one resource come again; those of a whole batch's
        # users (a worker's batch) do not, and would fill the cache with sets of MBs.
        entities = compiled.entities_for(
            f"[{','.join(fragments.values())}]", remember=len(run) == 1
        )
    except ValueError as exc:
        for index in run:
            decisions[index] = PolicyDecision(Verdict.DENY, (INVALID_REQUEST,), (str(exc),))
        return
    cedar_requests = [_cedar_request(requests[index]) for index in run]
    # No schema per request: it validated the policies at load, and every shape of the
    # context riskseal builds (_requestable_actions; evaluate_batch refuses the shapes it
    # refuses); checking each context again cost ~30 µs a request, a third of Cedar's time.
    results = cedarpy.is_authorized_batch(cedar_requests, compiled.policies, entities)
    step_ups: list[int] = []
    for position, (index, result) in enumerate(zip(run, results, strict=True)):
        decision = _decision(compiled, result)
        decisions[index] = decision
        if decision.verdict is Verdict.STEP_UP:
            step_ups.append(position)
    if not step_ups:
        return
    # A step-up only makes sense when some permit matches once the step-up is done.
    checks = cedarpy.is_authorized_batch(
        [cedar_requests[position] for position in step_ups],
        compiled.without_step_up,
        entities,
    )
    for position, check in zip(step_ups, checks, strict=True):
        if check.decision != cedarpy.Decision.Allow or check.diagnostics.errors:
            errors = tuple(_named(e, compiled.ids) for e in check.diagnostics.errors)
            decisions[run[position]] = PolicyDecision(Verdict.DENY, (DEFAULT_DENY,), errors)


def _refused_context(request: PolicyRequest) -> str:
    missing = [name for name, value in (("ip", request.ip), ("mfa_age_s", request.mfa_age_s))
               if value is None]  # fmt: skip
    return (
        f"the schema ({SCHEMA_FILE}) refuses the context of action {request.action!r} "
        f"without {' and '.join(missing)}; riskseal leaves them out when it has no value: "
        "declare them optional (name?: Type)"
    )


def _decision(compiled: _Compiled, result: cedarpy.AuthzResult) -> PolicyDecision:
    """Cedar's answer as a verdict (a STEP_UP still to be confirmed by the caller)."""
    errors = tuple(_named(error, compiled.ids) for error in result.diagnostics.errors)
    if result.decision == cedarpy.Decision.NoDecision:
        return PolicyDecision(Verdict.DENY, (INVALID_REQUEST,), errors)
    ids = tuple(sorted(compiled.ids.get(r, r) for r in result.diagnostics.reasons))
    if result.decision == cedarpy.Decision.Allow:
        if errors:
            return PolicyDecision(Verdict.DENY, (EVALUATION_ERROR,), errors)
        return PolicyDecision(Verdict.ALLOW, ids)
    if not ids:
        return PolicyDecision(Verdict.DENY, (DEFAULT_DENY,), errors)
    if all(policy_id.startswith(STEP_UP_PREFIX) for policy_id in ids):
        return PolicyDecision(Verdict.STEP_UP, ids, errors)
    return PolicyDecision(Verdict.DENY, ids, errors)


def _named(error: str, ids: dict[str, str]) -> str:
    """Cedar's message with its positional policy ids replaced by their ``@id``."""
    return _POLICY_REF.sub(lambda m: f'@id("{ids[m[0]]}")' if m[0] in ids else m[0], error)
