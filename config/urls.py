from django.contrib import admin
from django.urls import include, path

from config import health
from dashboard.signin import views as auth_views

urlpatterns = [
    path("", include("dashboard.urls")),
    path("api/", include("uploader.api.urls")),
    path("p/<str:portal_token>/", include("uploader.portals.urls")),
    path("accounts/login/", auth_views.sign_in, name="login"),
    # POST only. Ends the Django session, then Cognito's (dashboard.signin.oidc.cognito_logout_url).
    path("accounts/logout/", auth_views.sign_out, name="logout"),
    path("accounts/signed-out/", auth_views.signed_out, name="signed-out"),
    path("accounts/no-access/", auth_views.no_access, name="no-access"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    # Django admin signs in the same way as every other page.
    path("admin/login/", auth_views.admin_sign_in),
    path("admin/logout/", auth_views.sign_out),
    path("admin/", admin.site.urls),
    path("healthz/live", health.live, name="health-live"),
    path("healthz/ready", health.ready, name="health-ready"),
]
