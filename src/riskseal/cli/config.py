"""``riskseal config show | reference``: what the settings are and where they come from."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from riskseal.cli._common import out, state
from riskseal.settings import settings_reference_markdown

config_app = typer.Typer(help="Inspect riskseal's settings.", no_args_is_help=True)


@config_app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Print the effective settings (secrets masked).

    Example:

        RISKSEAL_PROFILE=production riskseal config show --json
    """
    settings = state(ctx).settings()
    values = json.loads(settings.model_dump_json())
    if as_json:
        out.print_json(json.dumps(values))
        return
    for name, value in values.items():
        out.print(f"{name} = {value!r}", markup=False)


@config_app.command("reference")
def reference() -> None:
    """Print the Markdown table of every setting (the source of docs/CONFIGURATION.md).

    Example:

        riskseal config reference > docs/CONFIGURATION.md
    """
    out.print(settings_reference_markdown(), markup=False, end="")
