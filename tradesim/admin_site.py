"""The admin site: Django's, with its titles, and the project's form rules
(tradesim.forms.StrictFormMixin) on its own two forms, logging in and changing one's
password. Installed by tradesim.apps.TradeSimAdminConfig, so `admin.site` is this one."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm, AdminPasswordChangeForm
from django.contrib.auth.views import PasswordChangeView
from django.urls import reverse

from tradesim.forms import StrictFormMixin, UsernameLengthMixin


class AdminLoginForm(StrictFormMixin, UsernameLengthMixin, AdminAuthenticationForm):
    pass


class AdminOwnPasswordForm(StrictFormMixin, AdminPasswordChangeForm):
    pass


class TradeSimAdminSite(admin.AdminSite):
    site_header = "TradeSim classroom console"
    site_title = "TradeSim admin"
    index_title = "Run your class"
    login_form = AdminLoginForm

    def password_change(self, request, extra_context=None):
        # AdminSite.password_change with the form as its only change: Django's names its
        # form class in the method, with no attribute to set.
        url = reverse("admin:password_change_done", current_app=self.name)
        defaults = {
            "form_class": AdminOwnPasswordForm,
            "success_url": url,
            "extra_context": {**self.each_context(request), **(extra_context or {})},
        }
        if self.password_change_template is not None:
            defaults["template_name"] = self.password_change_template
        request.current_app = self.name
        return PasswordChangeView.as_view(**defaults)(request)
