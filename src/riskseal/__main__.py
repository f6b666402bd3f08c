"""``python -m riskseal``: the same as the ``riskseal`` command."""

from riskseal.cli import run

run()
