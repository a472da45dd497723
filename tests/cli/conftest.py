from __future__ import annotations

import pytest
from typer.testing import CliRunner

from citylink import cli


class Cli:
    """``citylink --data-dir <tmp> …`` in-process."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.runner = CliRunner()

    def __call__(self, *args, code: int | None = 0, input: str | None = None):
        argv = ["--data-dir", str(self.data_dir), *map(str, args)]
        r = self.runner.invoke(cli.app, argv, input=input)
        if code is not None:
            assert r.exit_code == code, (argv, r.exit_code, r.stdout, r.stderr, r.exception)
        return r


@pytest.fixture
def run(tmp_path, monkeypatch):
    # rich draws tables to the terminal's width; CliRunner has none, so give it room
    monkeypatch.setattr(cli.console, "width", 250)
    monkeypatch.setattr(cli.err, "width", 250)
    return Cli(tmp_path / "data")
