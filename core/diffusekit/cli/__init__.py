"""The `diffusekit` command. Subcommands live in their own modules and import lazily."""

from __future__ import annotations

import click

from ._formats import format_option
from ._safe_mode import plugin_selection
from .env import env_command
from .generate import generate
from .inspection import inspect_command
from .plugins import plugins


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="diffusekit", prog_name="diffusekit")
@format_option
@click.option(
    "--no-plugins",
    is_flag=True,
    help="Safe mode: load no plugin distribution except those named with --plugin.",
)
@click.option(
    "--plugin",
    "allowed",
    multiple=True,
    metavar="DIST",
    help="A distribution that may load in safe mode (repeatable; implies --no-plugins).",
)
@click.pass_context
def main(ctx: click.Context, no_plugins: bool, allowed: tuple[str, ...]) -> None:
    """Run diffusion pipelines from Hugging Face-format checkpoints."""
    plugin_selection(ctx, no_plugins, allowed)


main.add_command(generate)
main.add_command(inspect_command)
main.add_command(plugins)
main.add_command(env_command)
