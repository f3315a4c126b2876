"""Shared pieces of the CLI: error handling, output, progress, option types."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn

import click

from latency_kit.errors import LatkitError


class LatkitGroup(click.Group):
    """A click group that prints user errors as one line and exits non-zero.

    Both latkit's own errors (:class:`LatkitError`) and click's usage errors
    (a bad option value, an unknown command) become ``error: ...`` plus a
    pointer to ``--help``, with exit code 2 and no traceback.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _usage_exit(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LatkitError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)
            ctx.exit(2)
        except click.UsageError as exc:
            _usage_exit(exc)
        except KeyboardInterrupt:
            click.echo("interrupted; rerun the same command to resume", err=True)
            ctx.exit(130)


# A user error is one line of at most about this many characters.
ERROR_CHARS = 300


def one_line(message: str, limit: int = ERROR_CHARS) -> str:
    """``message`` on one line (line breaks become "; "), cut to ``limit`` characters.

    The last guard for user errors: messages are written short at their
    source, but a file's contents quoted in one must not flood the terminal.
    """
    text = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _usage_exit(exc: click.UsageError) -> NoReturn:
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        raise exc  # a bare group prints its help, as click does
    where = exc.ctx.command_path if exc.ctx else "latkit"
    click.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
    sys.exit(exc.exit_code)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (the ``--json`` contract)."""
    click.echo(json.dumps(data, indent=1, default=_default))


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def console(stderr: bool = True):
    """A rich console; on stderr by default, so stdout stays clean for ``--json``."""
    from rich.console import Console

    return Console(stderr=stderr)


@contextmanager
def progress_bar(description: str, total: int | None = None,
                 heading: str | None = None) -> Iterator[Any]:
    """A rich progress display on stderr; yields ``update(done, total, note, stage=None)``.

    One display covers every stage of a command: an update with a new
    ``stage`` (``"calibration"`` after the blocks, say) completes the current
    row and starts a row of its own, with its own count, elapsed time and ETA,
    so a stage never inherits the previous stage's speed. The display appears
    at the first update, so a command that fails while checking its inputs
    prints its one error line and nothing else; ``heading`` (a line such as
    "this machine is busy") is printed then too, above the display.
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.table import Column

    columns = (TextColumn("[bold]{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[note]}",
                          table_column=Column(no_wrap=True, overflow="ellipsis")))
    bar = Progress(*columns, console=console(), transient=False)
    rows: dict[str | None, Any] = {}

    def update(done: int, total_: int | None = None, note: str = "",
               stage: str | None = None) -> None:
        if not bar.live.is_started:
            if heading:
                click.echo(heading, err=True)
            bar.start()
        if stage not in rows:
            if rows:  # the previous stage (the last row added) is over: show it complete
                last = bar.tasks[-1]
                bar.update(last.id, completed=last.total or last.completed)
            label = description if stage is None else f"{description}: {stage}"
            rows[stage] = bar.add_task(label, total=total_ if total_ is not None else total,
                                       note="")
        bar.update(rows[stage], completed=done,
                   total=total_ if total_ is not None else total, note=note[:60])

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
space_option = click.option("--space", default="ofa-mbv3", show_default=True,
                            help="Search space name (see `latkit space list`).")


def resolution_option(multiple: bool = False):
    return click.option(
        "--resolution", "resolution", type=int, multiple=multiple,
        default=(224,) if multiple else None,
        help="Input resolution (ofa-mbv3: 160-224 in steps of 16)." + (" Repeatable." if multiple else ""),
    )


def space_options_for(space: str, resolutions: tuple[int, ...] | list[int] | None) -> dict[str, Any]:
    """Constructor options of ``space`` from ``--resolution`` flags
    (:func:`latency_kit.spaces.resolution_options`: an error for a space without one)."""
    from latency_kit.spaces import resolution_options

    return resolution_options(space, resolutions)
