"""The adapter tests' URLs: the plugin's routes at the root, as the guide says."""

from django.urls import include, path

urlpatterns = [path("", include("skypanel_hubspot_plugin.django.urls"))]
