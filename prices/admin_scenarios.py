"""The Scenarios page of the admin: the shipped and uploaded scenarios, the one running or
paused, uploading a file, a scenario's preview (a chart drawn here, no script) and its
start, pause, resume, stop and "reset the market to its start".

Who may: whoever may schedule a market event (prices.add_marketevent, which the
Instructors group has) may run scenarios and upload them: a scenario does nothing a
series of market events could not, within the bounds its checks enforce, and each
action is audited. Deleting an uploaded scenario is left to superusers (the model's own
delete permission), and a shipped one cannot be deleted.
"""

from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from prices import scenario_runs, scenarios
from prices.models import MarketState, Scenario
from tradesim.forms import Form

RUN_PERMISSION = "prices.add_marketevent"


def _on_post(view):
    """An action's address: a POST (its button) acts; a GET (a link followed, a page
    reloaded) changes nothing and goes back to the scenarios, where the buttons are."""

    @wraps(view)
    def acting(request, *args, **kwargs):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:prices_scenario_changelist"))
        return view(request, *args, **kwargs)

    return acting


class SeedForm(Form):
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=scenarios.MAX_SEED,
        help_text="The same seed draws the same prices. Blank: the scenario's own.",
    )


class UploadForm(Form):
    file = forms.FileField(
        label="Scenario file (.toml)",
        help_text="A TOML file like the shipped ones; it is checked before it is saved.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".toml"):
            raise forms.ValidationError("Choose a .toml file (a scenario file).")
        if upload.size > scenarios.MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {scenarios.MAX_FILE_BYTES // 1000} kB."
            )
        return upload


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["title", "name", "days", "origin", "short_description"]
    list_display_links = ["title"]
    list_select_related = ["uploaded_by"]
    search_fields = ["name", "title"]
    list_filter = ["builtin"]
    change_list_template = "admin/prices/scenario/change_list.html"

    @admin.display(description="From")
    def origin(self, obj):
        if obj.builtin:
            return "Shipped"
        return f"Uploaded by {obj.uploaded_by or 'a removed user'}"

    @admin.display(description="Description")
    def short_description(self, obj):
        text = " ".join(obj.description.split())
        return text if len(text) <= 160 else text[:157].rstrip() + "…"

    # Permissions ----------------------------------------------------------------------

    def may_run(self, request) -> bool:
        return request.user.has_perm(RUN_PERMISSION)

    def has_module_permission(self, request):
        return self.may_run(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.may_run(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False  # scenarios come as files: the upload page

    def has_change_permission(self, request, obj=None):
        return False  # a scenario is its file: upload a new version to change it

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # One upload at a time from its own page: the list's bulk delete would take
        # shipped scenarios with it.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _require_run(self, request):
        if not self.may_run(request):
            raise PermissionDenied

    # Pages ------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="prices_scenario_upload"),
            path("pause/", view(_on_post(self.pause_view)), name="prices_scenario_pause"),
            path("resume/", view(_on_post(self.resume_view)), name="prices_scenario_resume"),
            path("stop/", view(_on_post(self.stop_view)), name="prices_scenario_stop"),
            path(
                "<path:object_id>/start/",
                view(_on_post(self.start_view)),
                name="prices_scenario_start",
            ),
            path("<path:object_id>/reset/", view(self.reset_view), name="prices_scenario_reset"),
            *super().get_urls(),
        ]

    def _context(self, request, **extra):
        request.current_app = self.admin_site.name
        return {**self.admin_site.each_context(request), "opts": self.opts, **extra}

    def _live(self):
        run = scenario_runs.live_run()
        if run is None:
            return None
        state = MarketState.objects.filter(id=1).first() or MarketState()
        return {"run": run, "day": scenario_runs.day_now(run, state)}

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            scenarios.sync_builtin()
        extra = {
            "title": "Scenarios",
            **(extra_context or {}),
            "live": self._live(),
            "may_run": self.may_run(request),
        }
        return super().changelist_view(request, extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """A scenario's page: its description, the preview for a seed, start and reset."""
        scenario = self.get_object(request, unquote(object_id))
        if scenario is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, scenario):
            raise PermissionDenied
        form = SeedForm(request.GET or None)
        seed = scenario.seed
        status = 200
        if form.is_bound:
            if form.is_valid():
                seed = form.cleaned_data["seed"] if form.cleaned_data["seed"] is not None else seed
            else:
                status = 400
        script = scenarios.script_of(scenario.source)
        result = scenarios.preview(script, seed=seed, model=scenarios.market_model())
        context = self._context(
            request,
            title=scenario.title,
            original=scenario,
            script=script,
            form=form,
            preview=result,
            chart=scenarios.chart_svg(result),
            seed=seed,
            live=self._live(),
            may_run=self.may_run(request),
            has_delete_permission=self.has_delete_permission(request, scenario),
        )
        return TemplateResponse(
            request, "admin/prices/scenario/detail.html", context, status=status
        )

    def upload_view(self, request):
        self._require_run(request)
        form = UploadForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                scenario = scenario_runs.upload(
                    source=form.cleaned_data["file"].read(), by=request.user
                )
            except scenario_runs.BadScenario as exc:
                errors = exc.errors
            except scenario_runs.ScenarioRefused as exc:
                errors = [exc.message]
            else:
                self.message_user(
                    request,
                    f"Uploaded “{scenario.title}”. Preview it before you start it.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:prices_scenario_change", args=[scenario.pk])
                )
        context = self._context(request, title="Upload a scenario", form=form, errors=errors)
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(
            request, "admin/prices/scenario/upload.html", context, status=status
        )

    def start_view(self, request, object_id):
        self._require_run(request)
        scenario = self.get_object(request, unquote(object_id))
        if scenario is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back = reverse("admin:prices_scenario_change", args=[scenario.pk])
        form = SeedForm(request.POST)
        if not form.is_valid():
            self.message_user(
                request, "The seed must be a whole number, 0 or more.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        try:
            run = scenario_runs.start(
                name=scenario.name, seed=form.cleaned_data["seed"], by=request.user
            )
        except scenario_runs.ScenarioRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(back)
        self.message_user(
            request,
            f"Started “{scenario.title}” with seed {run.seed}: its day 1 is trading day "
            f"{run.start_day}, from the next tick.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:prices_scenario_changelist"))

    def _run_action(self, request, action, done: str):
        self._require_run(request)
        try:
            run = action(by=request.user)
        except scenario_runs.ScenarioRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, done.format(title=run.scenario.title), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:prices_scenario_changelist"))

    def pause_view(self, request):
        return self._run_action(
            request,
            scenario_runs.pause,
            "Paused “{title}”: its clock stands still; the market moves on its own meanwhile.",
        )

    def resume_view(self, request):
        return self._run_action(
            request, scenario_runs.resume, "Resumed “{title}” where it was paused."
        )

    def stop_view(self, request):
        return self._run_action(
            request,
            scenario_runs.stop,
            "Stopped “{title}”: the market follows its own course from the next tick.",
        )

    def reset_view(self, request, object_id):
        """GET asks to confirm, saying what a reset does; POST resets (audited)."""
        self._require_run(request)
        scenario = self.get_object(request, unquote(object_id))
        if scenario is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back = reverse("admin:prices_scenario_change", args=[scenario.pk])
        if request.method == "POST":
            try:
                result = scenario_runs.reset_market(scenario=scenario, by=request.user)
            except scenario_runs.ScenarioRefused as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                kept = (
                    f" Left as they were (not in the sample market): {', '.join(result.kept)}."
                    if result.kept
                    else ""
                )
                self.message_user(
                    request,
                    f"Reset the market: {len(result.reset)} symbols are back at their listing "
                    f"prices. Start “{scenario.title}” when you are ready.{kept}",
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(back)
        context = self._context(
            request,
            title="Reset the market to the start of this scenario?",
            original=scenario,
            back=back,
            live=self._live(),
        )
        return TemplateResponse(request, "admin/prices/scenario/reset.html", context)
