from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import ProfileForm, RegistrationForm
from accounts.services import register_student
from ledger.models import Balance


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
            messages.success(
                request, f"Welcome to TradeSim, {user.username}! You start with ${cash:,.2f}."
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
