from django.contrib import admin
from django.templatetags.static import static
from django.urls import URLPattern, include, path
from django.views.generic.base import RedirectView
from mozilla_django_oidc import urls as oidc_urls

from config import health, metrics
from dashboard.signin import views as signin_views


class FaviconRedirect(RedirectView):
    """/favicon.ico: the SVG icon, its URL asked of the static files storage per request
    (hashed names in production)."""

    permanent = False

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("intake/favicon.svg")


urlpatterns = [
    path("", include("dashboard.urls")),
    # The document requests API first: the upload API's last pattern is a JSON 404 for
    # any other path under /api/.
    path("api/", include("uploader.requests.api.urls")),
    path("api/", include("uploader.api.urls")),
    path("p/<str:portal_token>/", include("uploader.portals.urls")),
    path("r/", include("uploader.requests.urls")),
    path("accounts/login/", signin_views.sign_in, name="login"),
    # POST only. Ends the Django session, then Cognito's (dashboard.signin.oidc.cognito_logout_url).
    path("accounts/logout/", signin_views.sign_out, name="logout"),
    path("accounts/signed-out/", signin_views.signed_out, name="signed-out"),
    path("accounts/no-access/", signin_views.no_access, name="no-access"),
    # The library's views, each answering 404 while Cognito is not configured.
    path(
        "oidc/",
        include(
            [URLPattern(p.pattern, signin_views.cognito_only(p.callback), name=p.name) for p in oidc_urls.urlpatterns]
        ),
    ),
    # Django admin signs in the same way as every other page.
    path("admin/login/", signin_views.admin_sign_in),
    path("admin/logout/", signin_views.sign_out),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page says; pages link the SVG themselves.
    path("favicon.ico", FaviconRedirect.as_view()),
    path("healthz/live", health.live, name="health-live"),
    path("healthz/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics, name="metrics"),
]
