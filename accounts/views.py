from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import JoinClassForm, ProfileForm, RegistrationForm
from accounts.lockout import client_ip
from accounts.services import TooManyWrongCodes, join_class, register_student
from classrooms.services import AlreadyInClass, JoinRefused
from ledger.models import Balance


def _refused_status(error: JoinRefused) -> int:
    return 429 if isinstance(error, TooManyWrongCodes) else 400


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
                return render(
                    request,
                    "registration/register.html",
                    {"form": form},
                    status=_refused_status(error),
                )
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
    form = JoinClassForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                classroom = join_class(user=request.user, code=form.cleaned_data["code"])
            except AlreadyInClass as error:
                messages.info(request, error.message)
                return redirect("portfolio:dashboard")
            except JoinRefused as error:
                form.add_error("code", error.message)
                status = _refused_status(error)
            else:
                cash = classroom.starting_cash
                messages.success(
                    request, f"You joined {classroom.name}. You start with ${cash:,.2f} in cash."
                )
                return redirect("portfolio:dashboard")
    return render(request, "accounts/join_class.html", {"form": form}, status=status)
