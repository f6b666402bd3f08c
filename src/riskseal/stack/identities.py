"""The S3 identities of the local stack: admin, sealer (writer) and auditor (read-only).

Keys are random, made at the first ``stack up`` and kept, mode 0600, in the data directory
as a SeaweedFS ``-s3.config`` file; later starts reuse them so exported credentials stay valid.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from riskseal.errors import ProvisioningError

ADMIN, SEALER, AUDITOR = "admin", "sealer", "auditor"
# SeaweedFS's plain "actions" cannot tell PUT from DELETE ("Write" allows both), so both roles
# get IAM-style policies, which SeaweedFS checks action by action: the sealer may create and
# read objects but not delete them (not even a delete marker) nor touch bucket settings.
SEALER_ACTIONS = (
    "s3:PutObject",
    "s3:PutObjectRetention",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectRetention",
    "s3:ListBucket",
    "s3:ListBucketVersions",
)
AUDITOR_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectRetention",
    "s3:GetObjectLegalHold",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketVersioning",
    "s3:ListBucket",
    "s3:ListBucketVersions",
)


def _policy(bucket: str, actions: tuple[str, ...]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": list(actions),
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


@dataclass(frozen=True, slots=True)
class S3Credentials:
    """An access key pair; the secret never shows in repr or logs."""

    access_key_id: str
    secret_access_key: SecretStr


@dataclass(frozen=True, slots=True)
class StackIdentities:
    """The three key pairs of the local stack."""

    admin: S3Credentials
    sealer: S3Credentials
    auditor: S3Credentials

    @classmethod
    def generate(cls) -> StackIdentities:
        """Fresh random key pairs."""

        def pair(role: str) -> S3Credentials:
            return S3Credentials(
                access_key_id=f"RS{role.upper()}{secrets.token_hex(6).upper()}",
                secret_access_key=SecretStr(secrets.token_urlsafe(30)),
            )

        return cls(admin=pair(ADMIN), sealer=pair(SEALER), auditor=pair(AUDITOR))

    def weed_config(self, bucket: str) -> dict[str, Any]:
        """The SeaweedFS ``-s3.config`` document granting each identity its actions."""

        def identity(name: str, creds: S3Credentials, **grant: list[str]) -> dict[str, Any]:
            return {
                "name": name,
                "credentials": [
                    {
                        "accessKey": creds.access_key_id,
                        "secretKey": creds.secret_access_key.get_secret_value(),
                    }
                ],
                **grant,
            }

        return {
            "identities": [
                identity(ADMIN, self.admin, actions=["Admin", "Read", "List", "Tagging", "Write"]),
                identity(SEALER, self.sealer, policyNames=[f"riskseal-{SEALER}"]),
                identity(AUDITOR, self.auditor, policyNames=[f"riskseal-{AUDITOR}"]),
            ],
            "policies": [
                {"name": f"riskseal-{SEALER}", "content": _policy(bucket, SEALER_ACTIONS)},
                {"name": f"riskseal-{AUDITOR}", "content": _policy(bucket, AUDITOR_ACTIONS)},
            ],
        }

    def save(self, path: Path, bucket: str) -> None:
        """Write the SeaweedFS identity file, readable by the owner only."""
        data = json.dumps(self.weed_config(bucket), indent=2).encode()
        # A new file, 0600 from its creation, then renamed over the old one: an existing
        # file that others can read never holds the secrets, not even for a moment.
        fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fresh.unlink(missing_ok=True)
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            fresh.replace(path)
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> StackIdentities:
        """Read the identity file written by :meth:`save`."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            by_name = {
                entry["name"]: S3Credentials(
                    access_key_id=entry["credentials"][0]["accessKey"],
                    secret_access_key=SecretStr(entry["credentials"][0]["secretKey"]),
                )
                for entry in document["identities"]
            }
            return cls(admin=by_name[ADMIN], sealer=by_name[SEALER], auditor=by_name[AUDITOR])
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProvisioningError(
                f"S3 identity file {path} is unreadable or incomplete ({exc!r}); "
                "run `riskseal stack down --wipe` and start again"
            ) from exc

    @classmethod
    def load_or_create(cls, path: Path, bucket: str) -> StackIdentities:
        """Reuse the identities of an earlier start, or make and save new ones."""
        if path.exists():
            return cls.load(path)
        identities = cls.generate()
        identities.save(path, bucket)
        return identities
