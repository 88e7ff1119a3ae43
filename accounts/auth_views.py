"""Django's auth views, answering a rejected form with status 400 as every form here does."""

from django.contrib import messages
from django.contrib.auth import views as auth_views

from accounts.forms import LoginForm, PasswordChangeForm


class Status400OnInvalidMixin:
    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class LoginView(Status400OnInvalidMixin, auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(Status400OnInvalidMixin, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "registration/password_change.html"

    def form_valid(self, form):
        messages.success(self.request, "Your password was changed.")
        return super().form_valid(form)
