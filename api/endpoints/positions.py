"""(filled in by the positions endpoints)"""

from ninja import Router

router = Router(tags=["Positions"])
