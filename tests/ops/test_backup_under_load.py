"""The backup the issue asks for: taken by `manage.py backup` while a class trades in
another process, restored by `manage.py restore` into a fresh database, where it must be
one consistent moment of the live one (Jepsen's bank test, in the small)."""

from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

JOURNAL = "SELECT id, user_id, type, amount FROM transactions"
TRADES = "SELECT id, user_id, symbol, operation, quantity, price FROM trades"
HOLDINGS = "SELECT user_id, symbol, quantity FROM holdings"
ORDERS = "SELECT count(*) FROM orders"


def read(database):
    journal, trades, holdings, orders = database.select(JOURNAL, TRADES, HOLDINGS, ORDERS)
    return (
        {row[0]: row[1:] for row in journal},
        {row[0]: row[1:] for row in trades},
        {(user, symbol): quantity for user, symbol, quantity in holdings},
        orders[0][0],
    )


def shares_traded(trades) -> dict:
    """Each student's shares of each symbol, from their trades alone."""
    held = Counter()
    for user, symbol, operation, quantity, _ in trades.values():
        held[(user, symbol)] += quantity if operation == "buy" else -quantity
    return {key: quantity for key, quantity in held.items() if quantity}


def test_a_backup_taken_while_the_class_trades_restores_one_consistent_moment(
    live, fresh, tmp_path
):
    stop = tmp_path / "stop"
    with live.reading_all_along():
        load = live.start(
            "-m", "tests.ops.trading_load", "--threads", "6", "--stop-file", str(stop)
        )
        assert load.next_line() == "ready", load.finish()
        journal_before, trades_before, _, _ = read(live)

        code, out, err = live.manage("backup")
        stop.touch()
    assert code == 0, err
    backup = Path(out[-1])
    assert backup.parent == tmp_path / "backups"  # BACKUP_DIR
    code, out, err = load.finish()
    assert code == 0 and out[-1].startswith("done "), err
    journal_after, trades_after, _, _ = read(live)

    code, out, err = fresh.manage("restore", str(backup), "--noinput")
    assert code == 0, err
    journal, trades, holdings, orders = read(fresh)

    # Everything committed before the backup began is in it, as it was committed, and
    # nothing that was never committed; what was committed after it ended is not.
    assert journal_before.items() <= journal.items() <= journal_after.items()
    assert trades_before.items() <= trades.items() <= trades_after.items()
    assert len(journal) < len(journal_after)
    # One moment: every balance is the sum of its journal, every holding the sum of its
    # trades, and each trade has its order and its one cash row (no commission here).
    code, out, err = fresh.manage("check_ledger")
    assert code == 0 and out[-1].startswith("Ledger OK"), out + err
    assert holdings == shares_traded(trades)
    assert orders == len(trades)
    assert Counter(row[1] for row in journal.values() if row[1] in ("buy", "sell")) == Counter(
        row[2] for row in trades.values()
    )
