"""The local real stack: SeaweedFS (S3 with Object Lock) and the Tansu Kafka broker.

Layout of the data directory::

    <data-dir>/
      .riskseal-stack     marks the directory as a stack's: only such a one is wiped
      stack.json          endpoints, ports and cluster id of the running stack
      s3-identities.json  admin / sealer / auditor keys (0600), SeaweedFS -s3.config
      run/weed.pid        pid files of the servers we started
      run/tansu.pid
      logs/weed.log       the servers' own output
      logs/tansu.log
      s3/                 SeaweedFS data (survives `stack down`)
      kafka/              the broker's working directory
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskseal.errors import DataDirError, StackError
from riskseal.s3client import make_s3_client
from riskseal.settings import Settings
from riskseal.stack import provision
from riskseal.stack.binaries import find_tansu, find_weed
from riskseal.stack.identities import S3Credentials, StackIdentities
from riskseal.stack.ports import StackPorts, ensure_ports_free
from riskseal.stack.process import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STACK_MARKER = ".riskseal-stack"
"""The file `stack up` writes in its data directory: `stack down --wipe` deletes no other."""

KAFKA_STORAGE_BUCKET = "riskseal-kafka"


@dataclass(frozen=True, slots=True)
class StackEndpoints:
    """Where a running stack answers, and the credentials of its roles."""

    kafka_bootstrap: str
    kafka_cluster_id: str
    kafka_storage: str
    s3_endpoint: str
    s3_region: str
    s3_bucket: str
    s3_prefix: str
    data_dir: Path
    sealer: S3Credentials
    auditor: S3Credentials

    def env(self) -> dict[str, str]:
        """The ``RISKSEAL_*`` variables that point riskseal at this stack."""
        return {
            "RISKSEAL_PROFILE": "local",
            "RISKSEAL_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "RISKSEAL_S3_ENDPOINT": self.s3_endpoint,
            "RISKSEAL_S3_REGION": self.s3_region,
            "RISKSEAL_S3_BUCKET": self.s3_bucket,
            "RISKSEAL_S3_PREFIX": self.s3_prefix,
            "RISKSEAL_S3_ACCESS_KEY_ID": self.sealer.access_key_id,
            "RISKSEAL_S3_SECRET_ACCESS_KEY": self.sealer.secret_access_key.get_secret_value(),
            "RISKSEAL_AUDIT_S3_ACCESS_KEY_ID": self.auditor.access_key_id,
            "RISKSEAL_AUDIT_S3_SECRET_ACCESS_KEY": (
                self.auditor.secret_access_key.get_secret_value()
            ),
            "RISKSEAL_DATA_DIR": str(self.data_dir),
        }

    def settings(self, **overrides: Any) -> Settings:
        """Settings for this stack: the local profile with these endpoints and keys."""
        values: dict[str, Any] = {
            "kafka_bootstrap": self.kafka_bootstrap,
            "s3_endpoint": self.s3_endpoint,
            "s3_region": self.s3_region,
            "s3_bucket": self.s3_bucket,
            "s3_prefix": self.s3_prefix,
            "s3_access_key_id": self.sealer.access_key_id,
            "s3_secret_access_key": self.sealer.secret_access_key,
            "audit_s3_access_key_id": self.auditor.access_key_id,
            "audit_s3_secret_access_key": self.auditor.secret_access_key,
            "data_dir": self.data_dir,
        }
        return Settings.local(**{**values, **overrides})


@dataclass(frozen=True, slots=True)
class StackStatus:
    """What ``stack status`` reports."""

    running: bool
    servers: dict[str, int | None]
    endpoints: StackEndpoints | None


class LocalStack:
    """Starts, checks and stops the local real stack under one data directory."""

    def __init__(self, settings: Settings, ports: StackPorts | None = None) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.ports = ports or StackPorts(kafka=settings.stack_kafka_port, s3=settings.stack_s3_port)
        self.host = settings.stack_host
        self.weed = ServerProcess(
            name="SeaweedFS",
            pid_file=self.data_dir / "run" / "weed.pid",
            log_file=self.data_dir / "logs" / "weed.log",
        )
        self.tansu = ServerProcess(
            name="Tansu broker",
            pid_file=self.data_dir / "run" / "tansu.pid",
            log_file=self.data_dir / "logs" / "tansu.log",
        )

    # --- paths -----------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        """The JSON file describing the running stack."""
        return self.data_dir / "stack.json"

    @property
    def identities_file(self) -> Path:
        """The SeaweedFS identity file with the three key pairs."""
        return self.data_dir / "s3-identities.json"

    # --- lifecycle -------------------------------------------------------------------------
    def up(self) -> StackEndpoints:
        """Start both servers, wait until they answer, provision bucket and topics.

        Idempotent: when this data directory's stack already runs, return its endpoints.
        """
        running = self._running_pids()
        if all(pid is not None for pid in running.values()):
            endpoints = self.endpoints()
            if endpoints is not None:
                return endpoints
        if any(pid is not None for pid in running.values()):
            raise StackError(
                f"the stack in {self.data_dir} is half running ({self._describe(running)}); "
                "run `riskseal stack down` first"
            )
        self._prepare_data_dir()
        ensure_ports_free(self.host, self.ports)
        weed_bin = find_weed(self.settings.weed_bin)
        tansu_bin = find_tansu(self.settings.tansu_bin)
        identities = StackIdentities.load_or_create(self.identities_file, self.settings.s3_bucket)
        try:
            self._start_seaweedfs(weed_bin, identities)
            cluster_id = self._start_broker(tansu_bin, identities)
            endpoints = self._endpoints(cluster_id, identities)
            provision.ensure_topics(
                endpoints.kafka_bootstrap,
                self.settings.topic_partitions,
                replication_factor=1,
            )
        except BaseException:
            self.down()
            raise
        self._write_state(endpoints)
        return endpoints

    def down(self, wipe: bool = False) -> list[str]:
        """Stop the servers this data directory's pid files name; return those stopped.

        Data stays unless ``wipe``; a stale pid file is removed.
        """
        if wipe and self.data_dir.exists() and not self._is_stack_directory():
            raise DataDirError(
                f"refusing to delete {self.data_dir.resolve()}: it is not a riskseal stack data "
                f"directory (no {STACK_MARKER} file, which `stack up` writes); check "
                "--data-dir (RISKSEAL_DATA_DIR), or delete it yourself if you mean to"
            )
        stopped = [server.name for server in (self.tansu, self.weed) if server.stop()]
        self.state_file.unlink(missing_ok=True)
        if wipe and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        return stopped

    def _is_stack_directory(self) -> bool:
        """Whether ``data_dir`` is one ``stack up`` made: its marker, or (made before there
        was one) its identity file and pid folder."""
        root = self.data_dir
        if (root / STACK_MARKER).is_file():
            return True
        return self.identities_file.is_file() and (root / "run").is_dir()

    def stop_s3(self) -> None:
        """Stop SeaweedFS alone (outage tests); :meth:`start_s3` brings it back."""
        self.weed.stop()

    def start_s3(self) -> None:
        """Start SeaweedFS again on the same ports and data, and wait until it answers."""
        identities = StackIdentities.load(self.identities_file)
        self._start_seaweedfs(find_weed(self.settings.weed_bin), identities)

    def status(self) -> StackStatus:
        """Which servers run, and the endpoints when the whole stack is up."""
        servers = self._running_pids()
        running = all(pid is not None for pid in servers.values())
        return StackStatus(
            running=running,
            servers=servers,
            endpoints=self.endpoints() if running else None,
        )

    def endpoints(self) -> StackEndpoints | None:
        """The endpoints recorded by the last successful ``up``, if any."""
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except ValueError as exc:
            raise StackError(
                f"state file {self.state_file} is corrupt ({exc}); run `riskseal stack down`"
            ) from exc
        identities = StackIdentities.load(self.identities_file)
        return StackEndpoints(
            kafka_bootstrap=state["kafka_bootstrap"],
            kafka_cluster_id=state["kafka_cluster_id"],
            kafka_storage=state["kafka_storage"],
            s3_endpoint=state["s3_endpoint"],
            s3_region=state["s3_region"],
            s3_bucket=state["s3_bucket"],
            s3_prefix=state["s3_prefix"],
            data_dir=Path(state["data_dir"]),
            sealer=identities.sealer,
            auditor=identities.auditor,
        )

    def admin_s3_client(self) -> S3Client:
        """An S3 client with the stack's admin identity (provisioning and demos only)."""
        admin = StackIdentities.load(self.identities_file).admin
        return make_s3_client(
            self._s3_endpoint(),
            self.settings.s3_region,
            admin.access_key_id,
            admin.secret_access_key,
        )

    # --- internals -------------------------------------------------------------------------
    def _running_pids(self) -> dict[str, int | None]:
        return {server.name: server.running_pid() for server in (self.weed, self.tansu)}

    @staticmethod
    def _describe(pids: dict[str, int | None]) -> str:
        return ", ".join(
            f"{name}: {'pid ' + str(pid) if pid else 'stopped'}" for name, pid in pids.items()
        )

    def _prepare_data_dir(self) -> None:
        try:
            for sub in ("run", "logs", "s3", "kafka"):
                (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / "run" / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
            (self.data_dir / STACK_MARKER).touch()
        except OSError as exc:
            raise DataDirError(
                f"data directory {self.data_dir} is not writable: {exc.strerror or exc}; "
                "choose another with --data-dir (RISKSEAL_DATA_DIR) or fix its permissions"
            ) from exc
        # The broker reads a .env file from its working directory or any parent: an empty
        # one here keeps a project's .env from reconfiguring it.
        (self.data_dir / "kafka" / ".env").touch()

    def _s3_endpoint(self) -> str:
        return f"http://{self.host}:{self.ports.s3}"

    def _start_seaweedfs(self, binary: Path, identities: StackIdentities) -> None:
        internal = self.ports.weed_internal
        argv = [
            "mini",
            f"-dir={self.data_dir / 's3'}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.port={self.ports.s3}",
            *(f"-{flag}={port}" for flag, port in internal.items()),
            f"-s3.config={self.identities_file}",
        ]
        pid = self.weed.start(binary, argv, cwd=self.data_dir / "s3", env=_clean_env())
        admin = make_s3_client(
            self._s3_endpoint(),
            self.settings.s3_region,
            identities.admin.access_key_id,
            identities.admin.secret_access_key,
            connect_timeout_s=1.0,
            read_timeout_s=3.0,
            max_attempts=1,
        )
        provision.wait_until_ready(
            self.weed,
            pid,
            self.ports.s3,
            provision.s3_answers(admin),
            self.settings.stack_ready_timeout_s,
        )
        provision.wait_until_ready(
            self.weed,
            pid,
            self.ports.s3,
            provision.s3_serves_stored_data(admin, self.settings.s3_bucket),
            self.settings.stack_ready_timeout_s,
        )
        provision.ensure_audit_bucket(
            admin,
            self.settings.s3_bucket,
            self.settings.object_lock_mode,
            self.settings.object_lock_retention_days,
        )
        if self.settings.stack_kafka_storage == "s3":
            provision.ensure_plain_bucket(admin, KAFKA_STORAGE_BUCKET)

    def _start_broker(self, binary: Path, identities: StackIdentities) -> str:
        url = f"tcp://{self.host}:{self.ports.kafka}"
        env = _clean_env()
        if self.settings.stack_kafka_storage == "s3":
            storage = f"s3://{KAFKA_STORAGE_BUCKET}/"
            env.update(
                AWS_ENDPOINT=self._s3_endpoint(),
                AWS_ALLOW_HTTP="true",
                AWS_ACCESS_KEY_ID=identities.admin.access_key_id,
                AWS_SECRET_ACCESS_KEY=identities.admin.secret_access_key.get_secret_value(),
                AWS_DEFAULT_REGION=self.settings.s3_region,
            )
            # Data survives a restart here, so offsets continue: keep the cluster id.
            cluster_id = self._kept_cluster_id()
        else:
            storage = "memory://tansu/"
            # A fresh memory broker restarts offsets at 0: a new cluster id starts new chains.
            cluster_id = _new_cluster_id()
        argv = [
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", storage,
            "--cluster-id", cluster_id,
        ]  # fmt: skip
        pid = self.tansu.start(binary, argv, cwd=self.data_dir / "kafka", env=env)
        provision.wait_until_ready(
            self.tansu, pid, self.ports.kafka,
            provision.kafka_answers(self.host, self.ports.kafka),
            self.settings.stack_ready_timeout_s,
        )  # fmt: skip
        return provision.kafka_cluster_id(f"{self.host}:{self.ports.kafka}")

    def _kept_cluster_id(self) -> str:
        path = self.data_dir / "kafka" / "cluster-id"
        if path.exists():
            return path.read_text(encoding="ascii").strip()
        cluster_id = _new_cluster_id()
        path.write_text(cluster_id + "\n", encoding="ascii")
        return cluster_id

    def _endpoints(self, cluster_id: str, identities: StackIdentities) -> StackEndpoints:
        return StackEndpoints(
            kafka_bootstrap=f"{self.host}:{self.ports.kafka}",
            kafka_cluster_id=cluster_id,
            kafka_storage=self.settings.stack_kafka_storage,
            s3_endpoint=self._s3_endpoint(),
            s3_region=self.settings.s3_region,
            s3_bucket=self.settings.s3_bucket,
            s3_prefix=self.settings.s3_prefix,
            data_dir=self.data_dir,
            sealer=identities.sealer,
            auditor=identities.auditor,
        )

    def _write_state(self, endpoints: StackEndpoints) -> None:
        state = {
            key: value
            for key, value in asdict(endpoints).items()
            if key not in ("sealer", "auditor")
        }
        state["data_dir"] = str(endpoints.data_dir)
        state["ports"] = self.ports.all()
        self.state_file.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def _new_cluster_id() -> str:
    return f"riskseal-{uuid.uuid4().hex[:12]}"


def _clean_env() -> dict[str, str]:
    """A minimal environment: the servers read AWS_* and broker settings from it."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    return {name: os.environ[name] for name in keep if name in os.environ}
