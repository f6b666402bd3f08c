"""The ``riskseal`` command line: a thin layer over the library.

Exit codes: 0 ok / verified, 1 a check or verification failed, 2 usage, configuration or
I/O error. ``main(argv)`` runs in-process, which is how the tests drive it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import NoCredentialsError

# Modules, not their command functions: `riskseal.cli.verify` stays the module (a function
# imported under its module's name would hide it from `import riskseal.cli.verify` users).
from riskseal.cli import demo, emit, export, generate, prove, replay, seal, verify
from riskseal.cli._common import EXIT_ERROR, CliState, err
from riskseal.cli.config import config_app
from riskseal.cli.keys import keys_app
from riskseal.cli.risk import risk_app
from riskseal.cli.stack import stack_app
from riskseal.errors import RiskSealError

app = typer.Typer(
    name="riskseal",
    help="Risk-based access decisions on Kafka and a sealed, verifiable audit trail in S3.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(stack_app, name="stack")
app.add_typer(config_app, name="config")
app.command("demo")(demo.demo)
app.command("emit")(emit.emit)
app.command("generate")(generate.generate)
app.command("seal")(seal.seal)
app.command("verify")(verify.verify)
app.command("prove")(prove.prove)
app.command("verify-proof")(prove.verify_proof)
app.command("export")(export.export)
app.command("replay")(replay.replay)
app.add_typer(keys_app, name="keys")
app.add_typer(risk_app, name="risk")


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="RISKSEAL_CONFIG",
            help="TOML file of settings (names as in docs/CONFIGURATION.md).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")
    ] = False,
) -> None:
    ctx.obj = CliState(config=config, verbose=verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args or "-v" in args
    try:
        app(args=args, prog_name="riskseal", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    except RiskSealError as exc:
        if verbose:
            err.print_exception()
        err.print(f"error: {exc}", markup=False)
        if _caused_by(exc, NoCredentialsError):
            err.print(_NO_CREDENTIALS_HINT, markup=False)
        return EXIT_ERROR
    except Exception as exc:  # a bug: never let it pass for a verdict (exit 1 is "tampered")
        err.print_exception()
        err.print(
            f"error: internal error ({type(exc).__name__}); this is a bug in riskseal, please "
            "report it with the traceback above. Nothing was concluded: exit code 2",
            markup=False,
        )
        return EXIT_ERROR
    return 0


_NO_CREDENTIALS_HINT = (
    "hint: no S3 credentials were found. An auditor sets RISKSEAL_AUDIT_S3_ACCESS_KEY_ID and "
    "RISKSEAL_AUDIT_S3_SECRET_ACCESS_KEY (read-only keys), the sealer RISKSEAL_S3_ACCESS_KEY_ID "
    "and RISKSEAL_S3_SECRET_ACCESS_KEY; without them the usual AWS sources apply (AWS_PROFILE, "
    "AWS_ACCESS_KEY_ID, an instance role)."
)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
