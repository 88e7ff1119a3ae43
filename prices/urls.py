from django.urls import path

from prices import views

app_name = "prices"
urlpatterns = [
    path("", views.market, name="market"),
    # Before the quote's address, which would take "news" for a symbol.
    path("news/", views.news, name="news"),
    path("<str:symbol>/", views.quote, name="quote"),
    path("<str:symbol>/live/", views.quote_live, name="quote_live"),
]
