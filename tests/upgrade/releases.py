"""The migrations each release of TradeSim left applied: its newest migration of each app.

The upgrade test (test_upgrade.py) migrates the test database back to PREVIOUS, fills it
through the models as they were then, migrates it forward to this code and checks that the
data survived and the app works on it.

At each release: add its leaves below (`git show <commit>:<app>/migrations/` lists an
app's migrations; the leaf is the newest), and point PREVIOUS at it. Every migration made
after PREVIOUS must be reversible (a RunPython with a reverse_code, migrations.RunPython.noop
when there is nothing to undo), since the test migrates back over it. An app with no leaf
here did not exist in that release, or had no migrations: the test migrates it to zero.
"""

RELEASES: dict[str, dict[str, str]] = {
    # 0.10.0, commit 3b50443
    "0.10.0": {
        "accounts": "0008_instructors_api_tokens",
        "api": "0002_token_form_and_revoke",
        "classrooms": "0004_classroom_api_access",
        "ledger": "0004_balance_held",
        "portfolio": "0008_holding_held_quantity",
        "prices": "0008_market_event_cancel",
        "trading": "0004_orders",
        "tradesim": "0006_revoke_token_action",
    },
}

PREVIOUS = "0.10.0"
