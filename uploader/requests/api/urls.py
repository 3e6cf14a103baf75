"""The document requests API, mounted at /api/ by config.urls before the upload API
(whose last pattern answers any other path under /api/ with a JSON 404)."""

from django.urls import path

from uploader.requests.api import views

app_name = "requests-api"

urlpatterns = [
    path("requests", views.request_collection, name="requests"),
    path("requests/<int:request_id>", views.request_detail, name="request"),
    path("requests/<int:request_id>/accept-all", views.request_accept_all, name="accept-all"),
    path("requests/<int:request_id>/close", views.request_close, name="close"),
    path("requests/<int:request_id>/items/<int:item_id>/accept", views.item_accept, name="item-accept"),
    path("requests/<int:request_id>/items/<int:item_id>/send-back", views.item_send_back, name="item-send-back"),
]
