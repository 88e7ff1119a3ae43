"""The leaderboard (a student's class board) and the instructors' classes and standings."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portfolio.selectors import Board, ranking_page
from tests.api.conftest import ApiClient, problem, token_for
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory
from tests.portfolio.helpers import buy, listed, set_price

pytestmark = pytest.mark.django_db


@pytest.fixture
def period(student, other_student):
    """Period 1: alice (+10 % on half her cash), bob (+0 %) and carol (−5 % on all of it);
    dave is in Period 2. Ranked by time-weighted return, names shown."""
    period1 = ClassroomFactory(name="Period 1")
    period2 = ClassroomFactory(name="Period 2")
    carol = StudentFactory(username="carol")
    dave = StudentFactory(username="dave")
    listed("UP", "100.00")
    listed("DOWN", "100.00")
    buy(student, "UP", 50)
    buy(carol, "DOWN", 100)
    set_price("UP", "120.00")
    set_price("DOWN", "95.00")
    for user, classroom in [(student, period1), (other_student, period1), (carol, period1)]:
        user.classroom = classroom
        user.save(update_fields=["classroom"])
    dave.classroom = period2
    dave.save(update_fields=["classroom"])
    return period1


def _names(body):
    return [(row["rank"], row["name"]) for row in body["data"]]


def test_the_leaderboard_ranks_the_class_as_the_page_does(api, student, period):
    body = api.get("/leaderboard").json()

    assert _names(body) == [(1, "alice"), (2, "bob"), (3, "carol")]
    assert body["classroom"] == {"id": period.pk, "name": "Period 1"}
    assert (body["metric"], body["metric_label"]) == ("twr", "Time-weighted return")
    assert body["metric_explained"].startswith("the growth of one unit")
    assert (body["total"], body["ranked"], body["min_trades"]) == (3, 3, 0)
    assert (body["frozen"], body["frozen_at"], body["names_shown"]) == (False, None, True)
    alice = body["data"][0]
    assert alice == {
        "rank": 1,
        "position": 1,
        "name": "alice",
        "anonymous": False,
        "metric_value": "10.00",
        "total_return_pct": "10.00",
        "twr_pct": "10.00",
        "max_drawdown_pct": "0.00",
        "total_value": "11000.00",
        "trades": None,
        "trades_needed": 0,
        "unranked_reason": None,
        "you": True,
    }
    assert body["you"] == alice
    assert [row["you"] for row in body["data"]] == [True, False, False]
    assert body["data"][2]["total_value"] == "9500.00"


def test_the_rows_are_the_selectors_standings(api, student, period):
    board = Board(classroom_id=period.pk)
    rows, _ = ranking_page(board, first=1, last=10, viewer_id=student.pk)

    body = api.get("/leaderboard").json()

    assert [(r["position"], r["name"], r["metric_value"]) for r in body["data"]] == [
        (row.position, row.name, f"{row.metric_value:.2f}") for row in rows
    ]


def test_classmates_names_are_hidden_when_the_class_says_so(api, other_api, period):
    period.names_shown = False
    period.save()

    body = api.get("/leaderboard").json()

    assert body["names_shown"] is False
    assert _names(body) == [(1, "alice"), (2, "Student 2"), (3, "Student 3")]
    assert [row["anonymous"] for row in body["data"]] == [False, True, True]
    bobs = other_api.get("/leaderboard").json()
    assert _names(bobs) == [(1, "Student 1"), (2, "bob"), (3, "Student 3")]
    assert bobs["you"]["name"] == "bob"
    assert "alice" not in str(bobs) and "carol" not in str(bobs)


def test_your_row_comes_on_every_page(other_api, period):
    first = other_api.get("/leaderboard", {"limit": 1}).json()

    assert _names(first) == [(1, "alice")]
    assert first["you"]["name"] == "bob"
    assert first["you"]["position"] == 2
    assert first["you"]["you"] is True
    assert first["data"][0]["you"] is False


def test_the_board_pages_with_a_cursor(api, period):
    first = api.get("/leaderboard", {"limit": 2}).json()
    second = api.get("/leaderboard", {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [r["position"] for r in first["data"]] == [1, 2]
    assert [r["position"] for r in second["data"]] == [3]
    assert second["next_cursor"] is None
    assert second["you"]["name"] == "alice"
    assert second["total"] == 3


def test_a_page_past_the_end_is_empty_and_still_counts_the_board(api, period):
    from api.pagination import encode

    body = api.get("/leaderboard", {"cursor": encode([10])}).json()

    assert body["data"] == []
    assert (body["total"], body["ranked"], body["next_cursor"]) == (3, 3, None)
    assert body["you"]["name"] == "alice"


@pytest.mark.parametrize("cursor", ["nonsense", "WyJ4Il0", "Wy0xXQ", "WzEsMl0"])
def test_a_board_cursor_the_api_did_not_give_is_400(api, period, cursor):
    problem(api.get("/leaderboard", {"cursor": cursor}), 400, "invalid_cursor")


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_a_board_limit_out_of_range_is_400(api, period, limit):
    problem(api.get("/leaderboard", {"limit": limit}), 400, "validation_error")


def test_a_class_with_a_minimum_of_trades_lists_the_others_unranked(api, period):
    period.min_trades_to_rank = 1
    period.save()

    body = api.get("/leaderboard").json()

    assert _names(body) == [(1, "alice"), (2, "carol"), (None, "bob")]
    bob = body["data"][2]
    assert (bob["trades"], bob["trades_needed"]) == (0, 1)
    assert bob["unranked_reason"] == "needs 1 more trade"
    assert (body["total"], body["ranked"], body["min_trades"]) == (3, 2, 1)


def test_a_class_that_ended_is_frozen(api, period):
    ended = timezone.now() - timedelta(days=1)
    period.starts_at = ended - timedelta(days=30)
    period.ends_at = ended
    period.save()

    body = api.get("/leaderboard").json()

    assert body["frozen"] is True
    assert body["frozen_at"] == timezone.localtime(ended).isoformat()
    # No snapshot before the end: nothing is known of anyone by then.
    assert {row["unranked_reason"] for row in body["data"]} == {"no record before the end"}


def test_the_class_metric_is_said(api, period):
    period.ranking = "total_return"
    period.save()

    body = api.get("/leaderboard").json()

    assert (body["metric"], body["metric_label"]) == ("total_return", "Total return")


def test_a_student_in_no_class_sees_the_students_in_no_class(period):
    loner = StudentFactory(username="loner")
    StudentFactory(username="other-loner")

    body = ApiClient(token_for(loner)).get("/leaderboard").json()

    assert body["classroom"] is None
    assert sorted(row["name"] for row in body["data"]) == ["loner", "other-loner"]


def test_another_class_never_appears(api, period):
    assert "dave" not in [row["name"] for row in api.get("/leaderboard").json()["data"]]


def test_an_instructor_token_has_no_leaderboard(instructor_api):
    body = problem(instructor_api.get("/leaderboard"), 403, "permission_denied")
    assert "/api/v1/classes" in body["detail"]


def test_the_leaderboard_needs_a_token(anon_api):
    problem(anon_api.get("/leaderboard"), 401, "not_authenticated")


# Instructors: their classes and standings ------------------------------------------------


@pytest.fixture
def teacher(period, instructor):
    period.owners.add(instructor)
    return instructor


def test_an_instructor_lists_their_own_classes_with_their_student_counts(
    instructor_api, teacher, period
):
    theirs = ClassroomFactory(name="Period 0", ranking="total_return")
    theirs.owners.add(teacher)
    InstructorFactory(username="other-teacher").owned_classes.add(ClassroomFactory(name="Period 9"))

    body = instructor_api.get("/classes").json()

    assert body == {
        "data": [
            {
                "id": theirs.pk,
                "name": "Period 0",
                "student_count": 0,
                "metric": "total_return",
                "starts_at": None,
                "ends_at": None,
            },
            {
                "id": period.pk,
                "name": "Period 1",
                "student_count": 3,
                "metric": "twr",
                "starts_at": None,
                "ends_at": None,
            },
        ]
    }


def test_a_superuser_lists_every_class(period):
    boss = InstructorFactory(username="boss", is_superuser=True)

    body = ApiClient(token_for(boss)).get("/classes").json()

    assert [(c["name"], c["student_count"]) for c in body["data"]] == [
        ("Period 1", 3),
        ("Period 2", 1),
    ]


def test_an_instructor_with_no_class_has_an_empty_list(instructor_api, period):
    assert instructor_api.get("/classes").json() == {"data": []}


def test_the_standings_show_every_name(instructor_api, teacher, period):
    period.names_shown = False
    period.save()

    body = instructor_api.get(f"/classes/{period.pk}/standings").json()

    assert _names(body) == [(1, "alice"), (2, "bob"), (3, "carol")]
    assert not any(row["anonymous"] for row in body["data"])
    assert "you" not in body["data"][0]
    assert body["classroom"] == {"id": period.pk, "name": "Period 1"}
    assert (body["total"], body["ranked"], body["names_shown"]) == (3, 3, False)


def test_the_standings_page_with_a_cursor(instructor_api, teacher, period):
    first = instructor_api.get(f"/classes/{period.pk}/standings", {"limit": 2}).json()
    second = instructor_api.get(
        f"/classes/{period.pk}/standings", {"limit": 2, "cursor": first["next_cursor"]}
    ).json()

    assert _names(first) + _names(second) == [(1, "alice"), (2, "bob"), (3, "carol")]
    assert second["next_cursor"] is None


def test_a_page_of_standings_past_the_end_still_counts_the_class(instructor_api, teacher, period):
    from api.pagination import encode

    body = instructor_api.get(f"/classes/{period.pk}/standings", {"cursor": encode([5])}).json()

    assert body["data"] == []
    assert (body["total"], body["ranked"]) == (3, 3)


def test_an_empty_class_has_empty_standings(instructor_api, teacher):
    empty = ClassroomFactory(name="Period 7")
    empty.owners.add(teacher)

    body = instructor_api.get(f"/classes/{empty.pk}/standings").json()

    assert (body["data"], body["total"], body["ranked"]) == ([], 0, 0)


def test_another_instructors_class_is_not_found(instructor_api, teacher):
    theirs = ClassroomFactory(name="Period 9")
    InstructorFactory(username="other-teacher").owned_classes.add(theirs)

    body = problem(instructor_api.get(f"/classes/{theirs.pk}/standings"), 404, "not_found")

    assert body["detail"] == "There is no such class among yours."


@pytest.mark.parametrize("class_id", ["0", "-1", "999999", "99999999999999999999", "abc"])
def test_odd_class_ids_are_404_or_400(instructor_api, teacher, class_id):
    response = instructor_api.get(f"/classes/{class_id}/standings")

    assert response.status_code in (400, 404)
    assert response["Content-Type"] == "application/problem+json"


def test_a_superuser_reads_any_class(period):
    boss = InstructorFactory(username="boss", is_superuser=True)

    body = ApiClient(token_for(boss)).get(f"/classes/{period.pk}/standings").json()

    assert len(body["data"]) == 3


def test_a_student_token_reads_no_class(api, period):
    problem(api.get("/classes"), 403, "permission_denied")
    problem(api.get(f"/classes/{period.pk}/standings"), 403, "permission_denied")


def test_classes_need_a_token(anon_api, period):
    problem(anon_api.get("/classes"), 401, "not_authenticated")
    problem(anon_api.get(f"/classes/{period.pk}/standings"), 401, "not_authenticated")
