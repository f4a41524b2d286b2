from django.contrib import admin
from django.urls import include, path

from accounts.views import limit_sign_in_posts

urlpatterns = [
    path("", include("rooms.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("signaling.urls")),
    path("", include("mediaworker.urls")),
    path("", include("invites.urls")),
    # The admin's sign-in form counts with /accounts/login/ (LOGIN_ATTEMPTS_PER_MINUTE).
    path("admin/login/", limit_sign_in_posts(admin.site.login)),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]
