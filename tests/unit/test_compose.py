"""docker-compose.yml, Dockerfile and infra/ policies, checked statically.

No Docker engine is available in CI, so the deployment is checked for structure: the
services and their wiring, KRaft settings, the topics riskseal needs, the Object Lock
bucket, the absence of literal secrets, and least-privilege S3 policies.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskseal.cli import main
from riskseal.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / "infra" / ".env.example"
POLICY_FILES = {
    "minio-sealer": ROOT / "infra" / "minio" / "sealer-policy.json",
    "minio-auditor": ROOT / "infra" / "minio" / "auditor-policy.json",
    "aws-sealer": ROOT / "infra" / "aws" / "sealer-policy.json",
    "aws-auditor": ROOT / "infra" / "aws" / "auditor-policy.json",
}
SEALER_POLICIES = ("minio-sealer", "aws-sealer")
AUDITOR_POLICIES = ("minio-auditor", "aws-auditor")

RISKSEAL_SERVICES = ("sealer", "risk-worker")
REQUIRED_VAR = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]+\}$")
ANY_VAR = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*)(?P<op>:[-?])?(?P<arg>[^}]*)\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|ROOT_USER|TOKEN|CREDENTIAL|PRIVATE", re.I)
PORT_MAPPING = re.compile(r"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3}):(?P<host>\d+):(?P<container>\d+)$")
TOPIC_CREATE = re.compile(
    r"kafka-topics\.sh\b[^\n]*--create\b[^\n]*--topic\s+(?P<topic>[\w.-]+)"
    r"\s+--partitions\s+(?P<partitions>\d+)\s+--replication-factor\s+(?P<rf>\d+)"
)
DELETE_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion")
WRITE_PROBES = (
    "s3:PutObject",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:PutBucketPolicy",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:DeleteBucket",
    "s3:BypassGovernanceRetention",
)


# --- helpers ---------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, Any]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def service(name: str) -> dict[str, Any]:
    found = services()[name]
    assert isinstance(found, dict)
    return found


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    if isinstance(env, list):
        return {key: value for key, _, value in (str(item).partition("=") for item in env)}
    assert isinstance(env, dict)
    return {str(key): str(value) for key, value in env.items()}


def command_text(name: str) -> str:
    """The service's command as the shell gets it: ``$$`` unescaped as compose does."""
    cmd = service(name).get("command", "")
    text = " ".join(str(part) for part in cmd) if isinstance(cmd, list) else str(cmd)
    return text.replace("\\\n", " ").replace("$$", "$")


def pairs(value: str, separator: str) -> dict[str, str]:
    """``a<sep>b,c<sep>d`` as ``{a: b, c: d}`` (Kafka listener and protocol lists)."""
    return {key: rest for key, _, rest in (item.partition(separator) for item in value.split(","))}


def depends_on(name: str) -> dict[str, str]:
    deps = service(name).get("depends_on", {})
    if isinstance(deps, list):
        return {str(dep): "service_started" for dep in deps}
    assert isinstance(deps, dict)
    return {str(dep): str(spec.get("condition", "service_started")) for dep, spec in deps.items()}


def healthcheck_text(name: str) -> str:
    test = service(name).get("healthcheck", {}).get("test", [])
    return " ".join(str(part) for part in test) if isinstance(test, list) else str(test)


def interpolation_default(value: str) -> str:
    """``${NAME:-default}`` gives ``default``; a plain value gives itself."""
    match = ANY_VAR.fullmatch(value)
    if match is None:
        return value
    assert match["op"] == ":-", f"{value} has no default"
    return match["arg"]


def created_topics() -> dict[str, tuple[int, int]]:
    """Topic -> (partitions, replication factor) as kafka-init creates them."""
    found: dict[str, tuple[int, int]] = {}
    for match in TOPIC_CREATE.finditer(command_text("kafka-init")):
        assert match["topic"] not in found, f"{match['topic']} is created twice"
        found[match["topic"]] = (int(match["partitions"]), int(match["rf"]))
    return found


def mc_invocations(prefix: str) -> list[list[str]]:
    """Every ``mc <prefix …>`` line of minio-init, split like a shell would."""
    calls = []
    for line in command_text("minio-init").splitlines():
        words = shlex.split(line.strip()) if line.strip() else []
        if words[: 1 + len(prefix.split())] == ["mc", *prefix.split()]:
            calls.append(words)
    return calls


def strings(node: Any) -> Iterator[str]:
    """Every string value (and mapping key) in a parsed YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def production() -> Settings:
    return Settings.production()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RISKSEAL_"):
            monkeypatch.delenv(name)


def load_policy(key: str) -> dict[str, Any]:
    data = json.loads(POLICY_FILES[key].read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def statements(policy: dict[str, Any], effect: str) -> Iterator[dict[str, Any]]:
    for statement in policy["Statement"]:
        if statement["Effect"] == effect:
            yield statement


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(item) for item in value]


def actions(policy: dict[str, Any], effect: str) -> list[str]:
    return [action for st in statements(policy, effect) for action in as_list(st["Action"])]


def covers(patterns: list[str], action: str) -> bool:
    """True when an IAM action pattern (``*``/``?`` wildcards, case-insensitive) matches."""
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


# --- services and Kafka ----------------------------------------------------------------


def test_compose_defines_servers_init_jobs_and_riskseal_services() -> None:
    expected = {"kafka", "kafka-init", "minio", "minio-init", *RISKSEAL_SERVICES}
    assert expected <= set(services())


def test_kafka_uses_a_pinned_official_apache_kafka_image() -> None:
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", service("kafka")["image"])


def test_kafka_runs_kraft_as_combined_broker_and_controller() -> None:
    env = environment("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    # Required, no shared default: sealed chains are named by the cluster id.
    cluster_id = REQUIRED_VAR.match(env["CLUSTER_ID"])
    assert cluster_id is not None and cluster_id["name"] == "KAFKA_CLUSTER_ID"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"


def test_kafka_quorum_voters_name_this_node_on_its_controller_listener() -> None:
    env = environment("kafka")
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1
    node_id, _, endpoint = voters[0].partition("@")
    host, _, port = endpoint.rpartition(":")
    assert node_id == env["KAFKA_NODE_ID"]
    assert host in {"kafka", service("kafka").get("hostname")}
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    listeners = pairs(env["KAFKA_LISTENERS"], "://")
    assert listeners[controller].rpartition(":")[2] == port


def test_kafka_listeners_serve_the_compose_network_and_the_host() -> None:
    env = environment("kafka")
    protocols = pairs(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ":")
    listeners = pairs(env["KAFKA_LISTENERS"], "://")
    advertised = pairs(env["KAFKA_ADVERTISED_LISTENERS"], "://")
    assert set(listeners) <= set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in protocols
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised
    hosts = {endpoint.rpartition(":")[0] for endpoint in advertised.values()}
    assert "kafka" in hosts
    assert hosts & {"localhost", "127.0.0.1"}
    published = {m["container"] for m in map(PORT_MAPPING.match, service("kafka")["ports"]) if m}
    for name, endpoint in advertised.items():
        host, _, port = endpoint.rpartition(":")
        assert listeners[name].rpartition(":")[2] == port
        if host in {"localhost", "127.0.0.1"}:
            assert port in published, f"host listener {name} on {port} is not published"


def test_nothing_mentions_zookeeper() -> None:
    assert "zookeeper" not in COMPOSE_FILE.read_text(encoding="utf-8").lower()
    for name in services():
        assert not any("ZOOKEEPER" in key for key in environment(name))


def test_kafka_healthcheck_uses_the_images_own_scripts() -> None:
    assert "/opt/kafka/bin/" in healthcheck_text("kafka")


def test_minio_uses_a_pinned_official_minio_release() -> None:
    assert re.fullmatch(
        r"(quay\.io/)?minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ",
        service("minio")["image"],
    )
    assert re.fullmatch(
        r"(quay\.io/)?minio/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ",
        service("minio-init")["image"],
    )


def test_minio_healthcheck_probes_the_liveness_endpoint() -> None:
    assert "/minio/health/live" in healthcheck_text("minio")


def test_listening_services_publish_explicit_ports_and_have_healthchecks() -> None:
    listening = {
        name for name, spec in services().items() if spec.get("ports") or spec.get("expose")
    }
    assert {"kafka", "minio"} <= listening
    for name in listening:
        for mapping in service(name).get("ports", []):
            assert isinstance(mapping, str), f"{name}: use IP:HOST:CONTAINER strings"
            assert PORT_MAPPING.match(mapping), f"{name}: {mapping} is not IP:HOST:CONTAINER"
        assert healthcheck_text(name).strip(), f"{name} listens but has no healthcheck"


def test_init_services_wait_for_healthy_servers() -> None:
    assert depends_on("kafka-init") == {"kafka": "service_healthy"}
    assert depends_on("minio-init") == {"minio": "service_healthy"}


def test_init_services_run_once() -> None:
    for name in ("kafka-init", "minio-init"):
        assert service(name).get("restart", "no") == "no"


# --- topics ----------------------------------------------------------------------------


def test_kafka_init_creates_every_riskseal_topic_with_its_partition_count() -> None:
    created = {topic: partitions for topic, (partitions, _) in created_topics().items()}
    assert created == production().topic_partitions


def test_access_topics_are_co_partitioned() -> None:
    settings = production()
    created = created_topics()
    assert created[settings.topic_requests][0] == created[settings.topic_actions][0]


def test_topics_and_riskseal_replication_fit_the_single_broker() -> None:
    assert {rf for _, rf in created_topics().values()} == {1}
    for name in RISKSEAL_SERVICES:
        assert environment(name)["RISKSEAL_KAFKA_REPLICATION_FACTOR"] == "1"


def test_topics_are_created_idempotently() -> None:
    lines = [line for line in command_text("kafka-init").splitlines() if "--create" in line]
    assert lines
    assert all("--if-not-exists" in line for line in lines)


# --- MinIO bucket and users ------------------------------------------------------------


def test_minio_init_creates_the_audit_bucket_with_object_lock() -> None:
    calls = mc_invocations("mb")
    assert len(calls) == 1
    assert "--with-lock" in calls[0]
    target = calls[0][-1]
    assert target.split("/", 1)[1] == production().s3_bucket


def test_minio_init_sets_a_default_compliance_retention() -> None:
    calls = [call for call in mc_invocations("retention set") if "--default" in call]
    assert len(calls) == 1
    mode, validity, target = calls[0][-3:]
    assert mode == "COMPLIANCE"
    assert target.split("/", 1)[1] == production().s3_bucket
    assert validity == "${RISKSEAL_OBJECT_LOCK_RETENTION_DAYS}d"
    days = interpolation_default(environment("minio-init")["RISKSEAL_OBJECT_LOCK_RETENTION_DAYS"])
    assert int(days) == production().object_lock_retention_days


def test_minio_init_creates_sealer_and_auditor_users_from_the_policy_files() -> None:
    mounts = {
        (ROOT / host).resolve(): Path(container)
        for host, container, *_ in (
            str(volume).split(":") for volume in service("minio-init").get("volumes", [])
        )
    }
    in_container = {
        mounts[POLICY_FILES[key].parent.resolve()] / POLICY_FILES[key].name: key
        for key in ("minio-sealer", "minio-auditor")
        if POLICY_FILES[key].parent.resolve() in mounts
    }
    created = {Path(call[-1]): call[-2] for call in mc_invocations("admin policy create")}
    assert set(created) == set(in_container)
    # mc admin user add ALIAS ACCESSKEY SECRETKEY
    users = {call[-2] for call in mc_invocations("admin user add")}
    assert users == {"$RISKSEAL_S3_ACCESS_KEY_ID", "$RISKSEAL_AUDIT_S3_ACCESS_KEY_ID"}
    # mc admin policy attach ALIAS POLICY --user USER
    attached = {(call[5], call[-1]) for call in mc_invocations("admin policy attach")}
    assert all(call[-2] == "--user" for call in mc_invocations("admin policy attach"))
    sealer_policy = created[next(p for p, k in in_container.items() if k == "minio-sealer")]
    auditor_policy = created[next(p for p, k in in_container.items() if k == "minio-auditor")]
    assert attached == {
        (sealer_policy, "$RISKSEAL_S3_ACCESS_KEY_ID"),
        (auditor_policy, "$RISKSEAL_AUDIT_S3_ACCESS_KEY_ID"),
    }


# --- riskseal services ------------------------------------------------------------------


def test_riskseal_services_wait_for_the_init_jobs_to_complete() -> None:
    assert depends_on("sealer") == {
        "kafka-init": "service_completed_successfully",
        "minio-init": "service_completed_successfully",
    }
    assert depends_on("risk-worker") == {"kafka-init": "service_completed_successfully"}


def test_riskseal_services_are_built_from_the_dockerfile() -> None:
    for name in RISKSEAL_SERVICES:
        build = service(name)["build"]
        assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).resolve() == (
            DOCKERFILE.resolve()
        )


def test_dockerfile_installs_the_project_on_python_311_slim_as_non_root() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    bases = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert bases
    assert all(base == "python:3.11-slim" for base in bases)
    assert any("pip install ." in line for line in lines)
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_image_copies_every_folder_the_package_links_to() -> None:
    # Package data reached through symlinks (schemas, rules, policies) is only in the
    # image if the Dockerfile copies the folder the link points at.
    copied = {
        line.split()[-1].removeprefix("./").rstrip("/")
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ") and "--from" not in line
    }
    links = [path for path in (ROOT / "src").rglob("*") if path.is_symlink()]
    assert links
    for link in links:
        target = link.resolve().relative_to(ROOT)
        assert str(target.parts[0]) in copied, f"{link} -> {target}: the Dockerfile copies {copied}"


def test_the_image_build_checks_that_the_shipped_rules_and_policies_load() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "RiskEngine.load(" in text and "default_schemas()" in text


def test_every_riskseal_service_runs_a_real_command() -> None:
    for name in (*RISKSEAL_SERVICES, "verify"):
        command = [str(part) for part in service(name)["command"]]
        words = [part for part in command if not part.startswith("-")][:2]
        # the sub-command path, asked for its help: exit 0 only when it exists
        path = words if words[0] == "risk" else words[:1]
        assert main([*path, "--help"]) == 0, f"{name}: no command {' '.join(path)}"


def test_the_sealer_gets_its_signing_key_as_a_file_secret_kept_out_of_git() -> None:
    sealer = service("sealer")
    env = environment("sealer")
    [secret] = sealer["secrets"]
    assert env["RISKSEAL_SIGNING_KEY_FILE"] == f"/run/secrets/{secret['target']}"
    source = compose()["secrets"][secret["source"]]["file"]
    assert (ROOT / source).parent == ROOT / "infra" / "secrets"
    assert "secrets/" in (ROOT / "infra" / ".gitignore").read_text(encoding="utf-8").split()
    for name in services():
        if name != "sealer":
            assert "secrets" not in service(name), f"{name} must not get the signing key"


def test_verify_pins_the_sealers_public_key_mounted_read_only() -> None:
    command = [str(part) for part in service("verify")["command"]]
    trusted = command[command.index("--trust") + 1]
    mounts = {
        target: (source, mode)
        for source, target, mode in (
            str(volume).split(":") for volume in service("verify").get("volumes", [])
        )
    }
    source, mode = mounts[trusted]
    assert mode == "ro"
    assert (ROOT / source).resolve() == ROOT / "infra" / "secrets" / "sealer.vkey"


def test_riskseal_services_use_production_settings_and_in_network_endpoints() -> None:
    kafka_env = environment("kafka")
    advertised = pairs(kafka_env["KAFKA_ADVERTISED_LISTENERS"], "://").values()
    in_network = {endpoint for endpoint in advertised if endpoint.startswith("kafka:")}
    for name in RISKSEAL_SERVICES:
        env = environment(name)
        assert env["RISKSEAL_PROFILE"] == "production"
        assert env["RISKSEAL_KAFKA_BOOTSTRAP"] in in_network
        assert env["RISKSEAL_S3_ENDPOINT"] == "http://minio:9000"
        assert env["RISKSEAL_S3_BUCKET"] == production().s3_bucket
        assert env["RISKSEAL_OBJECT_LOCK_MODE"] == "COMPLIANCE"


def test_riskseal_service_environments_are_valid_riskseal_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (*RISKSEAL_SERVICES, "verify"):
        env = environment(name)
        unknown = {
            key
            for key in env
            if key.startswith(ENV_PREFIX)
            and key.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields
        }
        assert not unknown, f"{name}: no riskseal setting is called {sorted(unknown)}"
        for key, value in env.items():
            match = ANY_VAR.fullmatch(value)
            resolved = value if match is None else match["arg"] if match["op"] == ":-" else "x" * 12
            monkeypatch.setenv(key, resolved)
        settings = Settings.from_env()
        assert settings.profile == "production"
        assert settings.kafka_replication_factor == 1
        for key in list(env):
            monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("service", "bound_by"),
    [("sealer", "seal_shutdown_timeout_s"), ("risk-worker", "risk_shutdown_timeout_s")],
)
def test_a_service_gets_longer_to_stop_than_its_own_stop_timeout(
    service: str, bound_by: str
) -> None:
    grace = str(services()[service]["stop_grace_period"])
    assert grace.endswith("s") and grace[:-1].isdigit()
    assert int(grace[:-1]) > getattr(Settings.production(), bound_by)


def test_only_the_sealer_gets_writer_credentials_and_none_gets_the_auditors() -> None:
    writer = {"RISKSEAL_S3_ACCESS_KEY_ID", "RISKSEAL_S3_SECRET_ACCESS_KEY"}
    auditor = {"RISKSEAL_AUDIT_S3_ACCESS_KEY_ID", "RISKSEAL_AUDIT_S3_SECRET_ACCESS_KEY"}
    assert writer <= set(environment("sealer"))
    assert not auditor & set(environment("sealer"))
    assert not (writer | auditor) & set(environment("risk-worker"))


# --- secrets ----------------------------------------------------------------------------


def test_no_literal_secrets_in_any_service_environment() -> None:
    checked = 0
    for name in services():
        for key, value in environment(name).items():
            if SECRET_NAME.search(key):
                checked += 1
                match = REQUIRED_VAR.match(value)
                assert match is not None, f"{name}.{key} must be ${{{key}:?…}}"
                assert match["name"] == key
    assert checked >= 8


def test_no_well_known_default_credentials_in_the_compose_file() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8").lower()
    for default in ("minioadmin", "minio123", "changeme", "password123"):
        assert default not in text


def test_env_example_names_every_required_variable_without_values() -> None:
    required = {
        m["name"] for text in strings(compose()) for m in ANY_VAR.finditer(text) if m["op"] == ":?"
    }
    assert required
    example: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert required <= set(example)
    assert all(example[name] == "" for name in required)


# --- S3 policies ------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(POLICY_FILES))
def test_policy_file_is_an_iam_policy_document(key: str) -> None:
    policy = load_policy(key)
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"]
    for statement in policy["Statement"]:
        assert statement["Effect"] in {"Allow", "Deny"}
        assert as_list(statement["Action"])
        assert as_list(statement["Resource"])


@pytest.mark.parametrize("key", sorted(POLICY_FILES))
def test_policy_is_scoped_to_the_audit_bucket(key: str) -> None:
    bucket = production().s3_bucket
    allowed = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    for statement in load_policy(key)["Statement"]:
        assert set(as_list(statement["Resource"])) <= allowed


@pytest.mark.parametrize("key", SEALER_POLICIES)
def test_sealer_policy_grants_no_delete(key: str) -> None:
    granted = actions(load_policy(key), "Allow")
    for action in (*DELETE_ACTIONS, "s3:BypassGovernanceRetention"):
        assert not covers(granted, action), f"{key} allows {action}"
    assert not any(a.lower().startswith("s3:delete") for a in granted)


@pytest.mark.parametrize("key", SEALER_POLICIES)
def test_sealer_policy_explicitly_denies_delete_and_lock_changes(key: str) -> None:
    denied = actions(load_policy(key), "Deny")
    for action in (
        *DELETE_ACTIONS,
        "s3:BypassGovernanceRetention",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutLifecycleConfiguration",
    ):
        assert covers(denied, action), f"{key} does not deny {action}"


@pytest.mark.parametrize("key", SEALER_POLICIES)
def test_sealer_policy_allows_put_get_and_list_versions(key: str) -> None:
    granted = actions(load_policy(key), "Allow")
    # MinIO checks s3:PutObjectRetention even for a PUT that inherits the bucket default.
    for action in (
        "s3:PutObject",
        "s3:PutObjectRetention",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    ):
        assert covers(granted, action), f"{key} does not allow {action}"


@pytest.mark.parametrize("key", AUDITOR_POLICIES)
def test_auditor_policy_grants_no_put_or_delete(key: str) -> None:
    granted = actions(load_policy(key), "Allow")
    for action in WRITE_PROBES:
        assert not covers(granted, action), f"{key} allows {action}"
    assert not any(a.lower().startswith(("s3:put", "s3:delete")) for a in granted)


@pytest.mark.parametrize("key", AUDITOR_POLICIES)
def test_auditor_policy_allows_reading_versions_and_locks(key: str) -> None:
    granted = actions(load_policy(key), "Allow")
    for action in (
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectRetention",
        "s3:GetObjectLegalHold",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:GetBucketObjectLockConfiguration",
    ):
        assert covers(granted, action), f"{key} does not allow {action}"
