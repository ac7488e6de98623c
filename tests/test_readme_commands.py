"""The README's commands run as written: every ```sh / ```bash block, in order, against a
fresh SQLite database in an empty folder, with this venv's `qinglu` on PATH. A command
that exits non-zero fails the test, naming its line. Lines that start a server
(`qinglu serve`, `make run`) or build the project (`make test`) are skipped; comment
lines and a comment after a command are the shell's, as a reader's shell would treat
them. Files a command reads are made by the lines before it in the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SKIPPED = ("make ", "qinglu serve")


@dataclass(frozen=True)
class Command:
    line: int  # in README.md
    text: str


def readme_commands(text: str) -> list[Command]:
    """Each command of each shell block, continuation lines joined, skipped ones left out."""
    commands = []
    for block in BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        pending: list[str] = []
        start = 0
        for offset, raw in enumerate(block[1].splitlines()):
            if not pending:
                start = first_line + offset
            pending.append(raw)
            if raw.endswith("\\"):
                continue
            command = "\n".join(pending).strip()
            pending = []
            if command and not command.startswith("#") and not command.startswith(SKIPPED):
                commands.append(Command(start, command))
    return commands


def test_the_readme_has_commands_to_run() -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert len(commands) > 50
    assert not any(c.text.startswith("qinglu serve") for c in commands)


@pytest.mark.slow  # some 90 commands, each a process of its own
def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "QINGLU_DATABASE_URL": f"sqlite:///{tmp_path / 'qinglu.db'}",
           "QINGLU_ACTOR": "readme", "COLUMNS": "100"}
    for name in ("QINGLU_VAR_DIR", "QINGLU_KEY_DIR", "QINGLU_CHECKPOINT_DIR"):
        env.pop(name, None)  # beside the database, as for a reader
    failures = []
    for command in readme_commands(README.read_text(encoding="utf-8")):
        done = subprocess.run(["bash", "-c", command.text], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            failures.append(f"README.md:{command.line}: {command.text}\n"
                            f"  exit {done.returncode}: {done.stderr.strip()[-600:]}"
                            f"{done.stdout.strip()[-300:]}")
            if not os.environ.get("QINGLU_README_ALL"):
                break
    assert not failures, "\n".join(failures)
