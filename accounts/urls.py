from django.urls import path, reverse_lazy

from accounts import views
from accounts.auth_views import LoginView, LogoutView, PasswordChangeView

urlpatterns = [
    path("register/", views.register, name="register"),
    path("login/", LoginView.as_view(), name="login"),
    path("card/", views.login_card, name="login_card"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path(
        "password/",
        PasswordChangeView.as_view(success_url=reverse_lazy("profile")),
        name="password_change",
    ),
]
