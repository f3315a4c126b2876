"""``latkit nas``: train the generator and generate architectures for budgets."""

from __future__ import annotations

import click


@click.group()
def nas() -> None:
    """Budget-conditioned architecture generation (PNAG)."""
