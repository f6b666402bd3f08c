"""`riskseal stack up` refuses to start, with one clear line and exit 2, when it cannot."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskseal.cli import main
from riskseal.stack.ports import find_free_ports


@pytest.fixture
def listening_socket() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, lines
    return errors[0]


def test_kafka_port_in_use(
    tmp_path: Path, listening_socket: int, capsys: pytest.CaptureFixture[str]
) -> None:
    s3_port = find_free_ports().s3
    code = main(
        ["stack", "up", "--data-dir", str(tmp_path), "--kafka-port", str(listening_socket),
         "--s3-port", str(s3_port)]
    )  # fmt: skip
    assert code == 2
    line = _one_error_line(capsys)
    assert f"port {listening_socket} on 127.0.0.1 (kafka) is already in use" in line
    assert "--kafka-port" in line


def test_s3_port_in_use(
    tmp_path: Path, listening_socket: int, capsys: pytest.CaptureFixture[str]
) -> None:
    kafka_port = find_free_ports().kafka
    code = main(
        ["stack", "up", "--data-dir", str(tmp_path), "--kafka-port", str(kafka_port),
         "--s3-port", str(listening_socket)]
    )  # fmt: skip
    assert code == 2
    assert f"port {listening_socket} on 127.0.0.1 (s3) is already in use" in _one_error_line(capsys)


def test_missing_seaweedfs_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-weed"
    monkeypatch.setenv("RISKSEAL_WEED_BIN", str(missing))
    ports = find_free_ports()
    code = main(
        ["stack", "up", "--data-dir", str(tmp_path / "d"), "--kafka-port", str(ports.kafka),
         "--s3-port", str(ports.s3)]
    )  # fmt: skip
    assert code == 2
    line = _one_error_line(capsys)
    assert f"SeaweedFS binary {missing} does not exist" in line
    assert "RISKSEAL_WEED_BIN" in line


def test_missing_tansu_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    not_executable = tmp_path / "tansu"
    not_executable.write_text("not a program")
    monkeypatch.setenv("RISKSEAL_TANSU_BIN", str(not_executable))
    ports = find_free_ports()
    code = main(
        ["stack", "up", "--data-dir", str(tmp_path / "d"), "--kafka-port", str(ports.kafka),
         "--s3-port", str(ports.s3)]
    )  # fmt: skip
    assert code == 2
    line = _one_error_line(capsys)
    assert "Tansu broker binary" in line
    assert "not executable" in line


def test_unwritable_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A regular file where a directory must go: refused even for root, unlike chmod.
    blocker = tmp_path / "file"
    blocker.write_text("")
    ports = find_free_ports()
    code = main(
        ["stack", "up", "--data-dir", str(blocker / "data"), "--kafka-port", str(ports.kafka),
         "--s3-port", str(ports.s3)]
    )  # fmt: skip
    assert code == 2
    line = _one_error_line(capsys)
    assert f"data directory {blocker / 'data'} is not writable" in line
    assert "--data-dir" in line


def test_nothing_is_started_when_start_is_refused(
    tmp_path: Path, listening_socket: int, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["stack", "up", "--data-dir", str(tmp_path), "--kafka-port", str(listening_socket)])
    capsys.readouterr()
    assert not list((tmp_path / "run").glob("*.pid"))


def test_down_wipe_deletes_no_directory_but_a_stacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "my-project"
    (project / "src").mkdir(parents=True)
    (project / "notes.txt").write_text("mine")
    assert main(["stack", "down", "--data-dir", str(project), "--wipe"]) == 2
    assert "refusing to delete" in _one_error_line(capsys)
    assert (project / "notes.txt").read_text() == "mine"


def test_down_wipe_deletes_a_stack_directory_made_before_the_marker(tmp_path: Path) -> None:
    older = tmp_path / "data"
    (older / "run").mkdir(parents=True)
    (older / "s3-identities.json").write_text("{}")
    assert main(["stack", "down", "--data-dir", str(older), "--wipe"]) == 0
    assert not older.exists()
