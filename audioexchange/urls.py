from django.contrib import admin
from django.urls import include, path, re_path

from api.views import api, api_not_found

urlpatterns = [
    path("", include("rooms.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("signaling.urls")),
    path("", include("mediaworker.urls")),
    path("", include("invites.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/", api_not_found),
    path("", include("django_prometheus.urls")),
]
