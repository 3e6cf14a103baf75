from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("uploads/recent", views.recent_uploads, name="recent-uploads"),
]
