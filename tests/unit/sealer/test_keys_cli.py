"""`riskseal keys generate` and `export-public`: files, modes, output."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from riskseal.cli import main
from riskseal.keys import FileSigner, VerifierKey


def test_generate_writes_a_private_key_and_prints_its_vkey(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sealer.key"
    assert main(["keys", "generate", "--out", str(path), "--name", "acme-audit"]) == 0
    vkey = VerifierKey.from_vkey(capsys.readouterr().out.strip())
    assert vkey.name == "acme-audit"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileSigner.load(path).verifier == vkey


def test_generate_into_a_missing_folder_is_exit_2_saying_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "no-such-folder" / "sealer.key"
    assert main(["keys", "generate", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"cannot create {path}: No such file or directory" in err
    assert "Traceback" not in err


def test_generate_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sealer.key"
    assert main(["keys", "generate", "--out", str(path)]) == 0
    before = path.read_bytes()
    assert main(["keys", "generate", "--out", str(path)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_export_public_prints_the_same_vkey(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sealer.key"
    main(["keys", "generate", "--out", str(path)])
    generated = capsys.readouterr().out.strip()
    assert main(["keys", "export-public", str(path)]) == 0
    assert capsys.readouterr().out.strip() == generated
