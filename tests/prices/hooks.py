"""Tick hooks for the tests (settings.TICK_HOOKS takes dotted paths)."""

calls = []


def record(*, ticks, timestamp):
    calls.append((ticks, timestamp))


def explode(*, ticks, timestamp):
    raise RuntimeError("this hook always fails")
