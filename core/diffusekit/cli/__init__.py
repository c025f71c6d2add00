"""The `diffusekit` command. Subcommands live in their own modules and import lazily."""

from __future__ import annotations

import click

from .generate import generate
from .inspection import inspect_command
from .plugins import plugins


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="diffusekit", prog_name="diffusekit")
def main() -> None:
    """Run diffusion pipelines from Hugging Face-format checkpoints."""


main.add_command(generate)
main.add_command(inspect_command)
main.add_command(plugins)
