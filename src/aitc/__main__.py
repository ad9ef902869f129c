"""`python -m aitc` runs the `aitc` command."""

from aitc.cli.main import app

app()
