"""The Cedar entities of an access decision: the static ones from ``entities.json`` and the
principal and resource built for each request.

``entities.json`` is a Cedar JSON entity list. Roles, groups and resources in it go into one
parsed base (:class:`StaticEntities`, parsed once per load, with the schema's action
entities). Users in it are kept apart: a request's User entity is built from the request
(its roles and groups as parents) and the file's parents for that user are added to it.
A resource the file defines is taken from the file as it is, so an application cannot
lower the sensitivity of a resource the file classifies; any other resource is built from
the request.

Entity JSON is built once per distinct user (uid, roles, groups) and resource and cached
(:class:`EntityBuilder`), because the same users and resources come back all the time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cedarpy

from riskseal.errors import PolicyLoadError

USER = "User"
RESOURCE = "Resource"
ROLE = "Role"
GROUP = "Group"
ACTION = "Action"

DEFAULT_CACHE_SIZE = 8192
"""Distinct users, and distinct resources, whose entity JSON is kept."""


def resource_entity_id(resource_type: str, resource_id: str) -> str:
    """The Cedar id of a resource: ``<type>/<uid>``, e.g. ``crm/accounts-emea``."""
    return f"{resource_type}/{resource_id}"


def _ref(entity_type: str, entity_id: str) -> dict[str, str]:
    return {"type": entity_type, "id": entity_id}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class StaticEntities:
    """``entities.json``, parsed: the base entity set and what the file says about users.

    ``base`` holds the roles, groups and resources of the file and the action entities of
    the schema; ``user_parents`` the parents the file gives each user it lists;
    ``resource_ids`` the ids of the resources it defines; ``action_ids`` every action the
    schema declares (groups included).
    """

    base: cedarpy.Entities
    user_parents: Mapping[str, tuple[dict[str, str], ...]]
    resource_ids: frozenset[str]
    action_ids: frozenset[str]

    @classmethod
    def parse(cls, text: str, schema: cedarpy.Schema, path: str) -> StaticEntities:
        """Parse and validate ``text`` (the contents of the file ``path``) against ``schema``.

        A resource that has an ``owner`` but no ``owner_group`` gets ``Group::"<owner>"``,
        as request-built resources do. Raises :class:`PolicyLoadError` with Cedar's message
        when the file is not an entity list or does not conform to the schema.
        """
        try:
            document = json.loads(text) if text.strip() else []
        except json.JSONDecodeError as exc:
            raise PolicyLoadError(f"{path}: not JSON: {exc}") from exc
        if not isinstance(document, list) or not all(isinstance(e, dict) for e in document):
            raise PolicyLoadError(f"{path}: must be a JSON list of Cedar entities")
        entities = [_with_owner_group(entity) for entity in document]
        try:
            # Validates users too, then parses the set without them: users are merged
            # with each request's own user entity.
            cedarpy.Entities.from_json_str(_dumps(entities), schema)
            others = [e for e in entities if _uid_type(e) != USER]
            base = cedarpy.Entities.from_json_str(_dumps(others), schema)
        except ValueError as exc:
            raise PolicyLoadError(f"{path}: {exc}") from exc
        user_parents = {
            str(e["uid"]["id"]): tuple(_ref(p["type"], p["id"]) for p in e.get("parents", ()))
            for e in entities
            if _uid_type(e) == USER
        }
        listed = json.loads(str(base))
        return cls(
            base=base,
            user_parents=user_parents,
            resource_ids=frozenset(
                str(e["uid"]["id"]) for e in entities if _uid_type(e) == RESOURCE
            ),
            action_ids=frozenset(str(e["uid"]["id"]) for e in listed if e["uid"]["type"] == ACTION),
        )


def _uid_type(entity: Mapping[str, Any]) -> str | None:
    uid = entity.get("uid")
    return str(uid.get("type")) if isinstance(uid, dict) else None


def _with_owner_group(entity: dict[str, Any]) -> dict[str, Any]:
    attrs = entity.get("attrs")
    if _uid_type(entity) != RESOURCE or not isinstance(attrs, dict):
        return entity
    owner = attrs.get("owner")
    if not isinstance(owner, str) or "owner_group" in attrs:
        return entity
    return {**entity, "attrs": {**attrs, "owner_group": {"__entity": _ref(GROUP, owner)}}}


class EntityBuilder:
    """Builds (and caches) the JSON of the per-request User and Resource entities."""

    def __init__(self, static: StaticEntities, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._static = static
        self.user_json = functools.lru_cache(maxsize=cache_size)(self._user_json)
        self.resource_json = functools.lru_cache(maxsize=cache_size)(self._resource_json)

    def _user_json(self, user_id: str, roles: tuple[str, ...], groups: tuple[str, ...]) -> str:
        """The User entity: the request's roles and groups, plus the file's parents."""
        parents = [_ref(ROLE, role) for role in roles]
        parents += [_ref(GROUP, group) for group in groups]
        parents += self._static.user_parents.get(user_id, ())
        unique = list({(p["type"], p["id"]): p for p in parents}.values())
        return _dumps({"uid": _ref(USER, user_id), "attrs": {"uid": user_id}, "parents": unique})

    def _resource_json(
        self, entity_id: str, resource_type: str, owner: str | None, sensitivity: str
    ) -> str | None:
        """The Resource entity from the request, or None when entities.json defines it."""
        if entity_id in self._static.resource_ids:
            return None
        attrs: dict[str, Any] = {"type": resource_type, "sensitivity": sensitivity}
        if owner is not None:
            attrs["owner"] = owner
            attrs["owner_group"] = {"__entity": _ref(GROUP, owner)}
        return _dumps({"uid": _ref(RESOURCE, entity_id), "attrs": attrs, "parents": []})
