"""(filled in by the standings endpoints)"""

from ninja import Router

router = Router(tags=["Leaderboard"])
