"""The leaderboard (a student's class, as the leaderboard page shows it) and, for
instructors, their classes and each one's standings. Read-only; the same boards, ranking and
anonymity rule as the pages (portfolio.selectors)."""

from django.db.models import Count
from ninja import Query, Router, Schema
from pydantic import Field

from api import pagination
from api.auth import instructor, student
from api.endpoints.account import ClassOut
from api.problems import Problem
from api.schemas import Money, Percent, Timestamp
from api.services import row_id
from classrooms.describe import RANKING_EXPLAINED
from classrooms.models import Classroom
from classrooms.rules import Rulebook
from portfolio.selectors import Board, Standing, ranking_page, students, visible_classes

router = Router(tags=["Leaderboard"])


class StandingOut(Schema):
    rank: int | None = Field(
        description="The rank, equal for students equal on the metric and the total value; "
        "null for a student not ranked (see unranked_reason)."
    )
    position: int = Field(
        description="The place in the board's order, from 1, ties broken by name."
    )
    name: str = Field(
        description="The student's username, or “Student <position>” for a classmate whose "
        "name the class keeps from students."
    )
    anonymous: bool = Field(description="The name is hidden (“Student <position>”).")
    metric_value: Percent | None = Field(
        description="The board's metric: a percentage for the returns (twr, total_return, "
        "excess_return); for risk_adjusted a plain ratio (mean ÷ deviation of the period "
        "returns). Null where it cannot be told yet."
    )
    total_return_pct: Percent | None = Field(
        description="Total value less net contributions, as a percentage of net contributions."
    )
    twr_pct: Percent | None = Field(description="The time-weighted return, %.")
    max_drawdown_pct: Percent | None = Field(
        description="The worst fall of the portfolio from a peak, %; null on a frozen board."
    )
    total_value: Money | None = Field(
        description="Cash plus shares at the last prices (on a frozen board, as of the end); "
        "null for a student with no record before the end."
    )
    trades: int | None = Field(
        description="The student's own trades, counted when the class ranks only students "
        "with a minimum of trades; null otherwise."
    )
    trades_needed: int = Field(description="Trades still needed to be ranked.")
    unranked_reason: str | None = Field(description="Why not ranked, in words; null when ranked.")


class LeaderRowOut(StandingOut):
    you: bool = Field(description="This row is yours.")


class BoardOut(Schema):
    classroom: ClassOut | None = Field(
        description="The class ranked; null for the board of the students in no class."
    )
    metric: str = Field(
        description="What the board ranks by: twr (time-weighted return), total_return, "
        "excess_return (over the market index) or risk_adjusted."
    )
    metric_label: str = Field(description="The metric in words.")
    metric_explained: str = Field(description="What the metric measures, as the page says it.")
    min_trades: int = Field(
        description="Trades a student needs to be ranked (0: none); those with fewer are "
        "listed after the ranked, unranked."
    )
    names_shown: bool = Field(
        description="Whether students see their classmates' names; instructors always do."
    )
    frozen: bool = Field(description="The class has ended: the standings are final.")
    frozen_at: Timestamp | None = Field(description="When the class ended; null while it runs.")
    total: int = Field(description="Students on the board.")
    ranked: int = Field(description="Of them, how many are ranked.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last. A cursor names a "
        "place on the board: the board moves with the market, so a student may move between "
        "two pages."
    )


class LeaderboardOut(BoardOut):
    you: LeaderRowOut | None = Field(
        description="Your own row, whatever the page; null when you are not on the board "
        "(no cash account)."
    )
    data: list[LeaderRowOut] = Field(description="This page of the board, best first.")


class StandingsOut(BoardOut):
    data: list[StandingOut] = Field(description="This page of the board, best first.")


class BoardQuery(Schema):
    cursor: str | None = Field(
        default=None, max_length=200, description="The next_cursor of the page before."
    )
    limit: int = Field(
        default=pagination.DEFAULT_LIMIT,
        ge=1,
        le=pagination.MAX_LIMIT,
        description=f"Students per page (1 to {pagination.MAX_LIMIT}).",
    )


def _unranked_reason(board: Board, row: Standing) -> str | None:
    """The page's note under an unranked student's name."""
    if row.rank is not None:
        return None
    if row.trades_needed:
        return f"needs {row.trades_needed} more trade{'s' if row.trades_needed != 1 else ''}"
    if board.is_frozen and row.total_value is None:
        return "no record before the end"
    return "not enough record yet"


def standing_out(board: Board, row: Standing, *, viewer_id: int | None = None) -> dict:
    found = {
        "rank": row.rank,
        "position": row.position,
        "name": row.name,
        "anonymous": row.anonymous,
        "metric_value": row.metric_value,
        "total_return_pct": row.total_return_pct,
        "twr_pct": row.twr_pct,
        "max_drawdown_pct": row.max_drawdown_pct,
        "total_value": row.total_value,
        "trades": row.trades,
        "trades_needed": row.trades_needed,
        "unranked_reason": _unranked_reason(board, row),
    }
    if viewer_id is not None:
        found["you"] = row.user_id == viewer_id
    return found


def _after(cursor: str | None) -> int:
    """The board position a cursor names (0: the top)."""
    if not cursor:
        return 0
    (position,) = pagination.decode(cursor, (int,))
    if position < 0:
        raise Problem("invalid_cursor")
    return position


def _board_page(board: Board, classroom, query: BoardQuery, *, viewer_id: int | None, names):
    """The board's description, a page of it and the viewer's row. One query (the ranking,
    the page and the viewer's row); a second one only for a page past the end of a board
    the viewer is not on, to count it."""
    first = _after(query.cursor) + 1
    rows, mine = ranking_page(
        board,
        first=first,
        last=first + query.limit - 1,
        viewer_id=viewer_id,
        names=names,
    )
    sample = next((row for row in [*rows, mine] if row is not None), None)
    if sample is None and first > 1:
        top, _ = ranking_page(board, first=1, last=1, viewer_id=None, names=names)
        sample = top[0] if top else None
    total = sample.board_size if sample else 0
    next_cursor = None
    if rows and rows[-1].position < total:
        next_cursor = pagination.encode([rows[-1].position])
    description = {
        "classroom": {"id": classroom.pk, "name": classroom.name} if classroom else None,
        "metric": board.metric,
        "metric_label": board.metric_label,
        "metric_explained": RANKING_EXPLAINED[board.metric],
        "min_trades": board.min_trades,
        "names_shown": board.names_shown,
        "frozen": board.is_frozen,
        "frozen_at": board.frozen_at,
        "total": total,
        "ranked": sample.ranked_total if sample else 0,
        "next_cursor": next_cursor,
    }
    return description, rows, mine


@router.get(
    "/leaderboard",
    response=LeaderboardOut,
    summary="Your class's leaderboard",
    description="Your class's students ranked as the leaderboard page ranks them (the "
    "students in no class, if you are in none), best first, a page at a time; your own row "
    "is in `you` on every page. Where your class keeps names from students, classmates are "
    "“Student <position>”.",
)
def get_leaderboard(request, query: Query[BoardQuery]):
    user = student(request)
    # The token's lookup read the student's class already.
    classroom = user.classroom if user.classroom_id else None
    rulebook = Rulebook.from_classroom(classroom) if classroom else Rulebook.from_settings()
    board = Board.of(rulebook)
    description, rows, mine = _board_page(
        board, classroom, query, viewer_id=user.pk, names=board.names_shown
    )
    return {
        **description,
        "you": standing_out(board, mine, viewer_id=user.pk) if mine else None,
        "data": [standing_out(board, row, viewer_id=user.pk) for row in rows],
    }


class ClassSummaryOut(Schema):
    id: int
    name: str
    student_count: int = Field(
        description="Students on the class's board: active, with a cash account."
    )
    metric: str = Field(description="What the class ranks by.")
    starts_at: Timestamp | None = Field(description="When trading opens; null: open already.")
    ends_at: Timestamp | None = Field(description="When the class ends; null: no end.")


class ClassesOut(Schema):
    data: list[ClassSummaryOut] = Field(description="By name.")


@router.get(
    "/classes",
    response=ClassesOut,
    summary="Your classes",
    description="The classes you run (a superuser: every class), with how many students "
    "each has. Instructor tokens only.",
)
def list_classes(request):
    user = instructor(request)
    classes = visible_classes(user)
    sizes = dict(
        students()
        .filter(classroom__in=[c.pk for c in classes])
        .order_by()
        .values("classroom")
        .annotate(n=Count("pk"))
        .values_list("classroom", "n")
    )
    return {
        "data": [
            {
                "id": c.pk,
                "name": c.name,
                "student_count": sizes.get(c.pk, 0),
                "metric": c.ranking,
                "starts_at": c.starts_at,
                "ends_at": c.ends_at,
            }
            for c in classes
        ]
    }


@router.get(
    "/classes/{class_id}/standings",
    response=StandingsOut,
    summary="A class's standings",
    description="One of your classes ranked as its leaderboard ranks it, with every "
    "student's name, best first, a page at a time. Another instructor's class answers 404. "
    "Instructor tokens only.",
)
def get_class_standings(request, class_id: int, query: Query[BoardQuery]):
    user = instructor(request)
    classes = Classroom.objects.filter(pk=row_id(class_id))
    if not user.is_superuser:
        classes = classes.filter(owners=user)
    classroom = classes.first()
    if classroom is None:
        raise Problem("not_found", "There is no such class among yours.")
    board = Board.of(Rulebook.from_classroom(classroom))
    description, rows, _ = _board_page(board, classroom, query, viewer_id=None, names=True)
    return {**description, "data": [standing_out(board, row) for row in rows]}
