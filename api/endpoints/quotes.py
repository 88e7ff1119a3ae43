"""(filled in by the quotes endpoints)"""

from ninja import Router

router = Router(tags=["Quotes"])
