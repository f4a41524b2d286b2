from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("rooms.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("signaling.urls")),
    path("", include("mediaworker.urls")),
    path("", include("invites.urls")),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]
