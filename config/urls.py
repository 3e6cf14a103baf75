from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import health

urlpatterns = [
    path("", include("dashboard.urls")),
    path("api/", include("uploader.urls")),
    path("p/<str:portal_token>/", include("uploader.portal_urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz/live", health.live, name="health-live"),
    path("healthz/ready", health.ready, name="health-ready"),
]
