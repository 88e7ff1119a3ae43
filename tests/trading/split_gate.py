"""A split handler for the concurrency tests: it takes the accounts' lock, as the real one
does first, then opens the gate (`inside`) for the orders that are to come after the
split, then lets the real handler run. The lock is held until the tick commits."""

import threading

from ledger import services as ledger
from trading import splits

inside = threading.Event()


def apply_split(**kwargs):
    ledger.lock_all_accounts()
    inside.set()
    splits.apply_split(**kwargs)
