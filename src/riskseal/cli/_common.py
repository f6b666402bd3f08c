"""Shared pieces of the CLI: settings loading, consoles and exit codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from riskseal.audit.report import VerifyOptions
from riskseal.audit.sources import LocalTrailSource, S3TrailSource, TrailSource
from riskseal.errors import ConfigError, IntegrityError
from riskseal.keys import VerifierKey
from riskseal.s3client import s3_client_for
from riskseal.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1  # a verification or check failed
EXIT_ERROR = 2  # usage, configuration or I/O error

# Results go to stdout; progress, OK:/FAIL: lines and errors go to stderr.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliState:
    """Options given before the sub-command (``riskseal --config F stack up``)."""

    config: Path | None = None
    verbose: bool = False

    def settings(self, **overrides: Any) -> Settings:
        """Settings from the environment and ``--config``, with the given overrides."""
        given = {key: value for key, value in overrides.items() if value is not None}
        if self.config is not None:
            return Settings.from_toml(self.config, **given)
        return Settings.from_env(**given)


def state(ctx: typer.Context) -> CliState:
    """The CliState stored by the top-level callback."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def trail_source(settings: Settings, local: Path | None) -> TrailSource:
    """The sealed trail to read: a local copy when ``local`` is given, else the bucket with
    the auditor's read-only credentials."""
    if local is not None:
        return LocalTrailSource(local, prefix=settings.s3_prefix)
    return S3TrailSource(s3_client_for(settings, "reader"), settings.s3_bucket)


def read_input(path: Path, what: str, hint: str) -> bytes:
    """The bytes of the file ``path`` names; ConfigError (exit 2) naming it when it cannot be
    read (missing, a directory, no permission), with ``hint`` saying what to give instead."""
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read {what} {path}: {reason}; {hint}") from None


def write_output(path: Path, text: str, option: str) -> None:
    """Write ``text`` to ``path``; ConfigError (exit 2) naming it when that fails."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot write {option} {path}: {reason}; give a path in a writable, existing folder"
        ) from None


_TRUST_HINT = (
    "give --trust the file holding the sealer's public key (one vkey line, "
    "as `riskseal keys export-public` prints it)"
)


def trusted_keys(files: Sequence[Path] | None) -> tuple[VerifierKey, ...]:
    """The verifier keys in ``--trust`` files (one vkey line each); ConfigError (exit 2)
    naming the file when one cannot be read or does not hold a vkey."""
    keys = []
    for path in files or ():
        data = read_input(path, "--trust file", _TRUST_HINT)
        try:
            keys.append(VerifierKey.from_vkey(data.decode("utf-8").strip()))
        except UnicodeDecodeError:
            raise ConfigError(f"--trust file {path} is not text; {_TRUST_HINT}") from None
        except IntegrityError as exc:
            raise ConfigError(f"--trust file {path}: {exc}; {_TRUST_HINT}") from None
    return tuple(keys)


def verify_options(
    settings: Settings, trust: Sequence[Path] | None, min_retention_days: int | None = None
) -> VerifyOptions:
    """Verification of the settings' trail (prefix, log origin, audit topics) against the keys
    in the ``trust`` files, with the settings' minimum retention unless one is given."""
    return VerifyOptions(
        prefix=settings.s3_prefix,
        log_origin=settings.log_origin,
        audit_topics=(settings.topic_requests, settings.topic_actions, settings.topic_decisions),
        trusted_keys=trusted_keys(trust),
        min_retention_days=(
            settings.object_lock_retention_days
            if min_retention_days is None
            else min_retention_days
        ),
    )
