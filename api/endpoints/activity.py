"""(filled in by the activity endpoints)"""

from ninja import Router

router = Router(tags=["History"])
