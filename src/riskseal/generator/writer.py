"""``SessionWriter``: the events of one session, built in time order with their labels.

Normal sessions and attacks both use it, so every event has the same shape whichever part of
the generator made it: auth events act on the SSO app, an access done through the
application's policy check is an access request followed by the action that carries its
``request_id`` (and the same trace id), and every event carries the session's device,
endpoint and current authentication context.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from riskseal.contract.events import (
    AccessAction,
    AccessRequest,
    Actor,
    AuthContext,
    Endpoint,
    Outcome,
    Resource,
)
from riskseal.generator.catalog import SSO_APP
from riskseal.generator.model import GENERATOR_SOURCE, NORMAL, GeneratedEvent
from riskseal.generator.rng import hex_from, uuid4_from

NO_ATTRIBUTES: Mapping[str, str] = {}


class SessionWriter:
    """Appends the events of one session to :attr:`events`, advancing its own clock."""

    def __init__(
        self,
        rng: random.Random,
        *,
        actor: Actor,
        endpoint: Endpoint,
        device_id: str | None,
        start_ms: int,
        truth: str = NORMAL,
        attack_id: str | None = None,
    ) -> None:
        self.rng = rng
        self.actor = actor
        self.endpoint = endpoint
        self.device_id = device_id
        self.now = start_ms
        self.truth = truth
        self.attack_id = attack_id
        self.session_id: str | None = None
        self.auth = AuthContext()
        self.events: list[GeneratedEvent] = []

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds of simulated time pass (negative values count as 0)."""
        self.now += max(0, ms)

    def login(
        self, protocol: str, outcome: Outcome = Outcome.SUCCESS, status_detail: str | None = None
    ) -> AccessAction:
        """An auth.login; a successful one opens a new session, a refused one has none."""
        auth = AuthContext(is_mfa=False, auth_protocol=protocol)
        if outcome is Outcome.SUCCESS:
            self.session_id = uuid4_from(self.rng)
            self.auth = auth
            return self.act("auth.login", SSO_APP, outcome, auth=auth, trace=False)
        return self.act(
            "auth.login",
            SSO_APP,
            outcome,
            status_detail=status_detail,
            auth=auth,
            trace=False,
            in_session=False,
        )

    def mfa(self, method: str) -> AccessAction:
        """A successful auth.mfa; later events carry ``is_mfa`` and the MFA time."""
        self.auth = AuthContext(is_mfa=True, auth_protocol=method, mfa_time=self.now)
        return self.act("auth.mfa", SSO_APP, Outcome.SUCCESS, trace=False)

    def logout(self) -> AccessAction:
        """An auth.logout ending the session."""
        return self.act("auth.logout", SSO_APP, Outcome.SUCCESS, trace=False)

    def access(
        self,
        action: str,
        resource: Resource,
        *,
        checked: bool,
        outcome: Outcome = Outcome.SUCCESS,
        status_detail: str | None = None,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> AccessAction:
        """Do ``action`` on ``resource``; when ``checked``, ask for access first.

        A checked access is an access request and, 30-400 ms later, the action with the
        request's id and the same trace id.
        """
        trace_id = hex_from(self.rng, 32)
        request_id = None
        if checked:
            request_id = self.request(action, resource, trace_id=trace_id).event_id
            self.advance(self.rng.randint(30, 400))
        return self.act(
            action,
            resource,
            outcome,
            status_detail=status_detail,
            request_id=request_id,
            attributes=attributes,
            trace_id=trace_id,
        )

    def request(
        self,
        action: str,
        resource: Resource,
        *,
        trace_id: str | None = None,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> AccessRequest:
        """An access request (what the application asks the risk engine to decide)."""
        request = AccessRequest(
            event_id=uuid4_from(self.rng),
            time=self.now,
            source=GENERATOR_SOURCE,
            actor=self.actor,
            action=action,
            resource=resource,
            src_endpoint=self.endpoint,
            auth=self.auth,
            session_id=self.session_id,
            device_id=self.device_id,
            trace_id=trace_id,
            attributes=attributes,
        )
        self.events.append(GeneratedEvent(request, self.truth, self.attack_id))
        return request

    def act(
        self,
        action: str,
        resource: Resource,
        outcome: Outcome,
        *,
        status_detail: str | None = None,
        request_id: str | None = None,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
        auth: AuthContext | None = None,
        trace_id: str | None = None,
        trace: bool = True,
        in_session: bool = True,
    ) -> AccessAction:
        """An action with its outcome.

        It gets a new trace id unless ``trace_id`` is given or ``trace`` is false, and the
        session id unless ``in_session`` is false.
        """
        if trace_id is None and trace:
            trace_id = hex_from(self.rng, 32)
        done = AccessAction(
            event_id=uuid4_from(self.rng),
            time=self.now,
            source=GENERATOR_SOURCE,
            actor=self.actor,
            action=action,
            resource=resource,
            outcome=outcome,
            src_endpoint=self.endpoint,
            auth=self.auth if auth is None else auth,
            status_detail=status_detail,
            request_id=request_id,
            session_id=self.session_id if in_session else None,
            device_id=self.device_id,
            trace_id=trace_id,
            attributes=attributes,
        )
        self.events.append(GeneratedEvent(done, self.truth, self.attack_id))
        return done
