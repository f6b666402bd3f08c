"""The CLI surface: every command has --help with an example; exit codes."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest
import typer.main
from rich.text import Text

import riskseal.cli
from riskseal.cli import app, main
from riskseal.keys import FileSigner


def _leaf_commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        # typer bundles its own click, so test for a group by its sub-commands.
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            paths.append(path)

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _leaf_commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example" in text
    assert f"riskseal {' '.join(path)}" in text


def _command(path: list[str]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", _leaf_commands(), ids=" ".join)
def test_option_help_survives_the_rich_help_renderer(path: list[str]) -> None:
    # --help renders help texts as rich markup: "[default: x]" would vanish from it.
    for param in _command(path).params:
        help_text = getattr(param, "help", None) or ""
        assert Text.from_markup(help_text).plain == help_text, (param.name, help_text)


def test_command_modules_are_reachable_under_their_names() -> None:
    # A command function imported into the package under its module's name would hide the
    # module from `riskseal.cli.<name>` (and from monkeypatching its globals).
    for name in ("demo", "emit", "export", "generate", "prove", "replay", "seal", "verify"):
        module = importlib.import_module(f"riskseal.cli.{name}")
        assert getattr(riskseal.cli, name) is module, name


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2


def test_config_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RISKSEAL_PROFILE", "nonsense")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: invalid settings: profile (RISKSEAL_PROFILE)")


def test_config_show_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RISKSEAL_S3_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("RISKSEAL_S3_SECRET_ACCESS_KEY", "do-not-print-me")
    assert main(["config", "show", "--json"]) == 0
    assert "do-not-print-me" not in capsys.readouterr().out


@pytest.mark.parametrize("command", ["verify", "verify-proof"])
def test_missing_trust_file_is_exit_2_naming_it(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such.vkey"
    target = ["--local", str(tmp_path)] if command == "verify" else [str(tmp_path / "p.json")]
    assert main([command, *target, "--trust", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: cannot read --trust file {missing}: No such file or dir")
    assert "give --trust the file holding the sealer's public key" in err[0]


def test_a_private_key_given_as_trust_file_is_refused_without_printing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = tmp_path / "sealer.key"
    FileSigner.generate("test").save(private)
    secret_line = private.read_text().splitlines()[1]
    for command in (
        ["verify-proof", str(tmp_path / "p.json")],
        ["verify", "--local", str(tmp_path)],
    ):
        assert main([*command, "--trust", str(private)]) == 2
        captured = capsys.readouterr()
        assert secret_line not in captured.err + captured.out
        assert "PRIVATE KEY" not in captured.err.replace("this is a private key", "")
        assert "this is a private key, not a vkey" in captured.err


def test_a_long_trust_file_is_quoted_by_its_start_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "events.jsonl"
    trust.write_text(("x" * 60 + "\n") * 1000)
    assert main(["verify-proof", str(tmp_path / "p.json"), "--trust", str(trust)]) == 2
    err = capsys.readouterr().err
    assert f"malformed vkey '{'x' * 40}' (cut)" in err and "x" * 41 not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfe\x00", "is not text"), (b"garbage\n", "malformed vkey 'garbage'")],
)
def test_trust_file_without_a_vkey_is_exit_2_naming_it(
    content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "sealer.vkey"
    trust.write_bytes(content)
    assert main(["verify-proof", str(tmp_path / "p.json"), "--trust", str(trust)]) == 2
    err = capsys.readouterr().err
    assert f"--trust file {trust}" in err
    assert message in err


def test_missing_s3_credentials_are_exit_2_with_the_variables_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "RISKSEAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws files
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("RISKSEAL_S3_ENDPOINT", "http://127.0.0.1:9")  # never reached
    trust = tmp_path / "sealer.vkey"
    trust.write_text(FileSigner.generate("test").verifier.vkey() + "\n")
    assert main(["verify", "--trust", str(trust)]) == 2
    err = capsys.readouterr().err
    assert "Unable to locate credentials" in err
    assert "RISKSEAL_AUDIT_S3_ACCESS_KEY_ID and RISKSEAL_AUDIT_S3_SECRET_ACCESS_KEY" in err
