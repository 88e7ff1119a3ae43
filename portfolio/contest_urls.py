"""/classes/… pages about the student's class as a contest (classes:rules), gathered with
the joining pages under the "classes" namespace in tradesim/urls.py."""

from django.urls import path

from portfolio import views

urlpatterns = [
    path("rules/", views.class_rules, name="rules"),
]
