"""Port layout, free-port search and the S3 identity file."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from riskseal.errors import PortInUseError, ProvisioningError, StackError
from riskseal.stack.identities import StackIdentities
from riskseal.stack.ports import StackPorts, ensure_ports_free, find_free_ports, port_is_free
from riskseal.stack.provision import ensure_topics


def test_every_seaweedfs_port_is_explicit_and_distinct() -> None:
    ports = StackPorts(kafka=19092, s3=18333)
    numbers = list(ports.all().values())
    assert len(numbers) == len(set(numbers)) == 11
    assert ports.weed_internal["master.port"] == 18334
    assert max(ports.weed_internal.values()) == 18342


def test_find_free_ports_returns_bindable_ports() -> None:
    ports = find_free_ports()
    assert all(port_is_free("127.0.0.1", port) for port in ports.all().values())


def test_ensure_ports_free_names_the_taken_service() -> None:
    ports = find_free_ports()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports.weed_internal["filer.port"]))
        sock.listen()
        with pytest.raises(PortInUseError) as taken:
            ensure_ports_free("127.0.0.1", ports)
    assert taken.value.port == ports.weed_internal["filer.port"]
    assert taken.value.service == "seaweedfs -filer.port"


def test_identity_file_is_private_and_reloads_identically(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    created = StackIdentities.load_or_create(path, "bucket")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert StackIdentities.load_or_create(path, "bucket") == created
    assert len({created.admin, created.sealer, created.auditor}) == 3


def test_secrets_never_go_into_an_existing_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text("{}")
    path.chmod(0o644)
    before = tmp_path / "the-old-file"
    before.hardlink_to(path)  # what a reader holding the old file would see
    StackIdentities.load_or_create(tmp_path / "other.json", "bucket").save(path, "bucket")
    assert before.read_text() == "{}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.json", "other.json", "the-old-file"]


def test_secrets_do_not_show_in_repr() -> None:
    identities = StackIdentities.generate()
    secret = identities.sealer.secret_access_key.get_secret_value()
    assert secret not in repr(identities)
    assert secret not in str(identities.sealer)


def test_policies_grant_no_delete_and_the_auditor_no_write() -> None:
    document = StackIdentities.generate().weed_config("audit")
    policies = {
        entry["name"]: json.loads(entry["content"])["Statement"][0]
        for entry in document["policies"]
    }
    sealer, auditor = policies["riskseal-sealer"], policies["riskseal-auditor"]
    assert "s3:PutObject" in sealer["Action"]
    assert not [a for a in sealer["Action"] if "Delete" in a or ("Bucket" in a and "List" not in a)]
    assert not [a for a in auditor["Action"] if a.split(":")[1].startswith(("Put", "Delete"))]
    for policy in (sealer, auditor):
        assert policy["Resource"] == ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"]
    by_name = {entry["name"]: entry for entry in document["identities"]}
    assert by_name["sealer"]["policyNames"] == ["riskseal-sealer"]
    assert "actions" not in by_name["auditor"]


def test_corrupt_identity_file_is_a_provisioning_error(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text(json.dumps({"identities": []}))
    with pytest.raises(ProvisioningError, match="stack down --wipe"):
        StackIdentities.load(path)


def test_topics_on_a_broker_that_does_not_answer_name_the_address_to_fix() -> None:
    closed = find_free_ports().kafka  # nothing listens there
    with pytest.raises(ProvisioningError, match=f"no Kafka broker answered at 127.0.0.1:{closed} "):
        ensure_topics(f"127.0.0.1:{closed}", {"t": 1}, replication_factor=1, timeout_s=0.5)


def test_a_kafka_port_among_seaweedfs_ports_is_refused_before_start() -> None:
    with pytest.raises(StackError, match="would serve both"):
        ensure_ports_free("127.0.0.1", StackPorts(kafka=33095, s3=33092))


def test_free_ports_are_taken_below_the_ephemeral_range(monkeypatch: pytest.MonkeyPatch) -> None:
    # Any outgoing connection can take an ephemeral port before the server binds it.
    monkeypatch.setattr("riskseal.stack.ports._ephemeral_ports_start", lambda: 32_768)
    for _ in range(20):
        ports = find_free_ports()
        assert max(ports.all().values()) < 32_768
