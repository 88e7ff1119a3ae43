"""Django's auth views, answering a rejected form with status 400 as every form here does."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect

from accounts.forms import LoginForm, PasswordChangeForm


class Status400OnInvalidMixin:
    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class LoginView(Status400OnInvalidMixin, auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # Unticked, the session cookie dies with the browser (SESSION_EXPIRE_AT_BROWSER_CLOSE);
        # ticked, it outlives it for SESSION_COOKIE_AGE.
        if form.cleaned_data.get("remember"):
            self.request.session.set_expiry(settings.SESSION_COOKIE_AGE)
        return response


class LogoutView(auth_views.LogoutView):
    """POST logs out (Django's view). GET, from a link or a typed address, shows a page with
    the one button that does it, instead of Django's bare 405."""

    http_method_names = ["get", "head", "post", "options"]
    template_name = "registration/logout_confirm.html"

    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect("home")
        return self.render_to_response(self.get_context_data())

    def post(self, request, *args, **kwargs):
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.info(request, "You are logged out.")
        return response


class PasswordChangeView(Status400OnInvalidMixin, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "registration/password_change.html"

    def form_valid(self, form):
        messages.success(self.request, "Your password was changed.")
        return super().form_valid(form)
