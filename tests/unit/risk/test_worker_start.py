"""`riskseal risk worker` refuses, before anything starts, what would fail it later."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from riskseal.cli import main


def test_a_web_port_in_use_is_a_usage_error_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["risk", "worker", "--web-port", str(port), "--data-dir", str(tmp_path)])
    assert code == 2
    assert "--web-port" in capsys.readouterr().err


def test_a_data_directory_that_cannot_be_made_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    code = main(["risk", "worker", "--web-port", str(port), "--data-dir", str(a_file / "w")])
    assert code == 2
    assert "cannot make the worker's data directory" in capsys.readouterr().err
