import math

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import JoinClassForm, LoginCardForm, ProfileForm, RegistrationForm
from accounts.lockout import client_ip
from accounts.services import (
    CardRefused,
    TooManyCardCodes,
    TooManyWrongCodes,
    join_class,
    login_by_card,
    register_student,
)
from classrooms.services import AlreadyInClass, JoinRefused
from ledger.models import Balance


def _render_refused(request, template: str, form, error: JoinRefused):
    """The form again with the reason: 400, or 429 with Retry-After for too many wrong
    codes."""
    if not isinstance(error, TooManyWrongCodes):
        return render(request, template, {"form": form}, status=400)
    response = render(request, template, {"form": form}, status=429)
    wait = (error.until - timezone.now()).total_seconds()
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


@sensitive_post_parameters("password1", "password2")
def register(request):
    if request.user.is_authenticated:
        return redirect("portfolio:dashboard")
    if request.method == "POST":
        form = RegistrationForm(request.POST)
        if form.is_valid():
            try:
                user = register_student(
                    username=form.cleaned_data["username"],
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password1"],
                    class_code=form.cleaned_data["class_code"],
                    client_address=client_ip(request),
                )
            except JoinRefused as error:
                form.add_error("class_code", error.message)
                return _render_refused(request, "registration/register.html", form, error)
            except IntegrityError:
                # Someone took the username or email between the form's check and the
                # insert; the database's unique constraints kept them apart.
                form.add_error(
                    None, "That username or email address was just taken; choose another."
                )
                return render(request, "registration/register.html", {"form": form}, status=400)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            cash = Balance.objects.get(user=user).amount
            joined = f" You are in {user.classroom.name}." if user.classroom else ""
            messages.success(
                request,
                f"Welcome to TradeSim, {user.username}!{joined} You start with ${cash:,.2f}.",
            )
            return redirect("portfolio:dashboard")
        return render(request, "registration/register.html", {"form": form}, status=400)
    return render(request, "registration/register.html", {"form": RegistrationForm()})


def _retry_after(response, until):
    wait = (until - timezone.now()).total_seconds()
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


@sensitive_post_parameters("code")
@never_cache  # a refused page shows the code typed, and a shared device keeps no copy
def login_card(request):
    """Log in with a class's log-in card: GET shows the form (a card's QR code opens it
    with the code after the #, which static/js/login-card.js puts in the field and sends);
    POST logs the card's student in (accounts.services.login_by_card) and goes to their
    dashboard. A refused code: the form again with one message, 400; too many: 429."""
    template = "registration/login_card.html"
    if request.method != "POST":
        return render(request, template, {"form": LoginCardForm()})
    form = LoginCardForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    try:
        user = login_by_card(request, form.cleaned_data["code"])
    except TooManyCardCodes as error:
        form.add_error("code", error.message)
        response = render(request, template, {"form": form}, status=429)
        return _retry_after(response, error.until)
    except CardRefused as error:
        form.add_error("code", error.message)
        return render(request, template, {"form": form}, status=400)
    messages.success(request, f"Welcome, {user.get_short_name() or user.get_username()}!")
    return redirect("portfolio:dashboard")


@login_required
def profile(request):
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=request.user)
        if form.is_valid():
            form.save()
            messages.success(request, "Your profile was saved.")
            return redirect("profile")
        status = 400
    else:
        form = ProfileForm(instance=request.user)
        status = 200
    balance = Balance.objects.filter(user=request.user).first()
    return render(
        request, "accounts/profile.html", {"form": form, "balance": balance}, status=status
    )


@login_required
def join(request):
    """Join a class with its code: GET shows the form, POST joins (accounts.services.
    join_class) and redirects; a refused code re-renders the form with the reason."""
    template = "accounts/join_class.html"
    if request.method != "POST":
        return render(request, template, {"form": JoinClassForm()})
    form = JoinClassForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    try:
        classroom = join_class(user=request.user, code=form.cleaned_data["code"])
    except AlreadyInClass as error:
        messages.info(request, error.message)
        return redirect("portfolio:dashboard")
    except JoinRefused as error:
        form.add_error("code", error.message)
        return _render_refused(request, template, form, error)
    cash = classroom.starting_cash
    messages.success(request, f"You joined {classroom.name}. You start with ${cash:,.2f} in cash.")
    return redirect("portfolio:dashboard")
