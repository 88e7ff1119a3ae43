"""/classes/… pages about the student's class as a contest. Included under "classes/" after
the joining pages' own include (namespace "classes"), so the two never collide."""

from django.urls import path

from portfolio import views

app_name = "contest"
urlpatterns = [
    path("rules/", views.class_rules, name="rules"),
]
