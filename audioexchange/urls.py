from django.contrib import admin
from django.urls import include, path, re_path

from accounts.views import limit_sign_in_posts
from api.views import api_not_found
from api.views import urls as api_urls

urlpatterns = [
    path("", include("rooms.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("signaling.urls")),
    path("", include("mediaworker.urls")),
    path("", include("invites.urls")),
    # The admin's sign-in form counts with /accounts/login/ (LOGIN_ATTEMPTS_PER_MINUTE).
    path("admin/login/", limit_sign_in_posts(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls()),
    re_path(r"^api/", api_not_found),
    path("", include("django_prometheus.urls")),
]
