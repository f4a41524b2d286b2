from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog, set_language

from accounts.views import limit_sign_in_posts
from api.views import api_not_found
from api.views import urls as api_urls

# The page's strings for static/js (the djangojs domain) in the request's language. Pages ask for
# it with `?language=<code>`, so a browser's cached copy never outlives a language switch.
javascript_catalog = cache_control(max_age=3600)(JavaScriptCatalog.as_view())

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    path("jsi18n/", javascript_catalog, name="javascript-catalog"),
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
