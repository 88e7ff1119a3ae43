from django.urls import path

from trading import views

app_name = "trading"
urlpatterns = [
    path("", views.history, name="history"),
    path("buy/", views.buy_view, name="buy"),
    path("sell/", views.sell_view, name="sell"),
    path("orders/", views.orders, name="orders"),
    path("orders/new/", views.order_new_view, name="order_new"),
    path("orders/<int:order_id>/cancel/", views.cancel_order_view, name="cancel_order"),
]
