"""A program running beside a test, its output read line by line: the tests of real
processes (tickers racing for the market, a backup taken while others trade)."""

import queue
import subprocess
import threading
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class Process:
    """`args` run from the project folder with `env`. `hang_guard` seconds bound every wait,
    only so that a hung process fails the test instead of hanging it."""

    def __init__(self, args, env, *, hang_guard: float = 60):
        self.hang_guard = hang_guard
        self.popen = subprocess.Popen(  # noqa: S603 (the tests' own commands)
            list(args),
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out, self.err = queue.Queue(), queue.Queue()
        for stream, lines in ((self.popen.stdout, self.out), (self.popen.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def next_line(self, stream="out") -> str | None:
        """The next line written to stdout (or stderr); None if it ended without one."""
        return (self.out if stream == "out" else self.err).get(timeout=self.hang_guard)

    def finish(self) -> tuple[int, list[str], list[str]]:
        """Its exit code and the rest of what it wrote, once it has ended."""
        code = self.popen.wait(timeout=self.hang_guard)
        rest = {}
        for name, lines in (("out", self.out), ("err", self.err)):
            rest[name] = []
            while (line := lines.get(timeout=self.hang_guard)) is not None:
                rest[name].append(line)
        return code, rest["out"], rest["err"]
