from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup", views.signup, name="signup"),
    path("tickets", views.tickets, name="tickets"),
    path("tickets/<int:ticket_id>", views.ticket, name="ticket"),
    # The plugin's admin routes (staff only, CSRF-checked) and its public ones.
    path("", include("skypanel_hubspot_plugin.django.urls")),
]
