import pytest
from django.urls import reverse

from tests.factories import PASSWORD


@pytest.mark.django_db
def test_login_with_right_password_redirects_to_dashboard(client, student):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("portfolio:dashboard")


@pytest.mark.django_db
def test_login_with_wrong_password_is_400_with_message(client, student):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})

    assert response.status_code == 400
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("url", [reverse("login"), reverse("admin:login")])
def test_a_username_longer_than_any_is_refused_before_anyone_is_asked(client, student, url):
    """Django's log-in form does not enforce its username's length: this one went on to
    authenticate() and into django-axes' record of failures, which PostgreSQL refused."""
    from axes.models import AccessAttempt

    response = client.post(url, {"username": "x" * 5000, "password": "x" * 5000})

    assert response.status_code in (200, 400)  # the admin re-renders its form with 200
    assert "Ensure this value has at most 150 characters" in response.content.decode()
    assert not AccessAttempt.objects.exists()


@pytest.mark.django_db
def test_a_get_of_logout_asks_for_the_post_that_ends_the_session(student_client):
    page = student_client.get(reverse("logout"))

    assert page.status_code == 200
    assert f'<form method="post" action="{reverse("logout")}">' in page.content.decode()
    assert student_client.get(reverse("portfolio:dashboard")).status_code == 200  # still in

    response = student_client.post(reverse("logout"), follow=True)

    assert response.redirect_chain == [(reverse("home"), 302)]
    assert "You are logged out." in response.content.decode()
    assert student_client.get(reverse("portfolio:dashboard")).status_code == 302


@pytest.mark.django_db
def test_a_visitor_asking_to_log_out_is_sent_home(client):
    assert client.get(reverse("logout")).url == reverse("home")


@pytest.mark.django_db
def test_log_out_and_back_in_keeps_the_cash(client):
    from ledger.models import Balance

    strong = "Tr4ding-Floor-2026"
    client.post(
        reverse("register"),
        {
            "username": "erin",
            "email": "erin@school.example",
            "password1": strong,
            "password2": strong,
        },
    )
    client.post(reverse("logout"))
    response = client.post(reverse("login"), {"username": "erin", "password": strong})

    assert response.status_code == 302
    assert Balance.objects.get(user__username="erin").amount == 10000


@pytest.mark.django_db
def test_profile_page_requires_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302
    assert reverse("login") in response.url


@pytest.mark.django_db
def test_profile_shows_own_cash_and_saves_name(student_client, student):
    page = student_client.get(reverse("profile")).content.decode()
    assert "$10,000.00" in page

    response = student_client.post(
        reverse("profile"), {"first_name": "Alice", "last_name": "Liddell", "email": student.email}
    )
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.last_name == "Liddell"


@pytest.mark.django_db
def test_profile_rejects_another_users_email(student_client, other_student):
    response = student_client.post(
        reverse("profile"), {"first_name": "", "last_name": "", "email": "BOB@school.example"}
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_password_change_then_login_with_new_password(student_client, client, student):
    new = "An0ther-Strong-One"
    response = student_client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.check_password(new)


@pytest.mark.django_db
def test_password_change_with_wrong_old_password_is_400(student_client):
    response = student_client.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "An0ther-Strong-One",
            "new_password2": "An0ther-Strong-One",
        },
    )
    assert response.status_code == 400
