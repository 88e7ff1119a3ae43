"""The commands the README, the Makefile, the docs and the systemd units hand to teachers and
IT are ones that run: each `manage.py <command> …` (or `tradesim-manage <command> …`, the
servers' wrapper, deploy/tradesim-manage) they print parses with that command's own options."""

import re
import shlex
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError

BASE_DIR = Path(__file__).resolve().parent.parent
DOCUMENTS = [
    BASE_DIR / "README.md",
    BASE_DIR / "Makefile",
    *sorted((BASE_DIR / "docs").glob("*.md")),
    *sorted((BASE_DIR / "deploy").glob("*.service")),
]

# `manage.py name args…` up to the end of the code span, a comment or a shell operator.
INVOCATION = re.compile(r"(?:manage\.py|tradesim-manage) ([a-z_]+)([^`'\n#;|&>]*)")


def invocations():
    for path in DOCUMENTS:
        name = path.relative_to(BASE_DIR)
        text = path.read_text().replace("\\\n", " ")  # a shell line continued by a backslash
        for number, line in enumerate(text.splitlines(), 1):
            for match in INVOCATION.finditer(line):
                yield pytest.param(match[1], match[2].strip(), id=f"{name}:{number}:{match[1]}")


@pytest.mark.parametrize(("command", "arguments"), list(invocations()))
def test_a_documented_command_line_parses(command, arguments):
    commands = get_commands()
    if command == "help":  # `manage.py help NAME`
        command, arguments = arguments.split()[0], ""
    elif arguments.startswith("-c"):  # `manage.py shell -c "…"`: the code is not ours to parse
        arguments = ""
    assert command in commands, f"no command {command!r}"
    if "$(" in arguments or "<" in arguments:  # a Makefile variable or a placeholder
        arguments = re.sub(r"\$\([^)]*\)|<[^>]*>", "X", arguments)
    parser = load_command_class(commands[command], command).create_parser("manage.py", command)
    try:
        parser.parse_args(shlex.split(arguments))
    except CommandError as exc:
        pytest.fail(f"manage.py {command} {arguments}: {exc}")


def test_the_documents_name_the_commands_an_instructor_needs():
    found = {command for command, _ in (p.values for p in invocations())}
    assert {"create_instructor", "tick_prices", "seed_demo", "check_ledger"} <= found
