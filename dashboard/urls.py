from django.urls import path

from dashboard.audit import views as audit_views
from dashboard.browse import scan_views
from dashboard.browse import views as browse_views
from dashboard.bundles import views as bundle_views
from dashboard.events import cors_views as health_views
from dashboard.events import doctor_views
from dashboard.events import views as event_views
from dashboard.holds import views as hold_views
from dashboard.home import views
from dashboard.portals import views as portal_views
from dashboard.requests import template_views as request_template_views
from dashboard.requests import views as request_views
from dashboard.stats import views as stats_views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("uploads/recent", views.recent_uploads, name="recent-uploads"),
    path("uploads/", browse_views.upload_list, name="uploads"),
    path("uploads/totals/", browse_views.upload_totals, name="upload-totals"),
    path("uploads/<uuid:upload_id>/", browse_views.upload_detail, name="upload-detail"),
    path("uploads/<uuid:upload_id>/download", browse_views.upload_download, name="upload-download"),
    path("uploads/<uuid:upload_id>/delete", browse_views.upload_delete, name="upload-delete"),
    path("uploads/<uuid:upload_id>/note", browse_views.upload_note, name="upload-note"),
    path("uploads/<uuid:upload_id>/tags", browse_views.upload_tags, name="upload-tags"),
    path("uploads/<uuid:upload_id>/hold", hold_views.upload_hold, {"hold": True}, name="upload-hold"),
    path("uploads/<uuid:upload_id>/lift-hold", hold_views.upload_hold, {"hold": False}, name="upload-lift-hold"),
    path("uploads/<uuid:upload_id>/release", scan_views.upload_release_view, name="upload-release"),
    path("uploads/<uuid:upload_id>/quarantined", scan_views.upload_quarantine_download, name="upload-quarantined"),
    path("portals/", portal_views.portal_list, name="portals"),
    path("portals/new", portal_views.portal_new, name="portal-new"),
    path("portals/<int:portal_id>/", portal_views.portal_detail, name="portal-detail"),
    path("portals/<int:portal_id>/edit", portal_views.portal_edit, name="portal-edit"),
    path("portals/<int:portal_id>/rotate", portal_views.portal_rotate, name="portal-rotate"),
    path("portals/<int:portal_id>/disable", portal_views.portal_close, name="portal-disable"),
    path("portals/<int:portal_id>/reopen", portal_views.portal_reopen_view, name="portal-reopen"),
    path("portals/<int:portal_id>/download-all", portal_views.portal_download_all, name="portal-download-all"),
    path("portals/<int:portal_id>/bundle", bundle_views.portal_bundle, name="portal-bundle"),
    path("portals/<int:portal_id>/logo", portal_views.portal_logo, name="portal-logo"),
    path("portals/<int:portal_id>/hold", hold_views.portal_hold, {"hold": True}, name="portal-hold"),
    path("portals/<int:portal_id>/lift-hold", hold_views.portal_hold, {"hold": False}, name="portal-lift-hold"),
    path(
        "portals/<int:portal_id>/webhooks/<uuid:delivery_id>/retry",
        portal_views.portal_webhook_retry,
        name="portal-webhook-retry",
    ),
    path("requests/", request_views.request_list, name="requests"),
    path("requests/new", request_views.request_new, name="request-new"),
    path("requests/templates/", request_template_views.template_list, name="request-templates"),
    path("requests/templates/new", request_template_views.template_edit, name="request-template-new"),
    path("requests/templates/<int:template_id>/", request_template_views.template_edit, name="request-template-edit"),
    path("requests/templates/<int:template_id>/delete", request_template_views.template_delete, name="request-template-delete"),
    path("requests/<int:request_id>/", request_views.request_detail, name="request-detail"),
    path("requests/<int:request_id>/accept-all", request_views.accept_all, name="request-accept-all"),
    path("requests/<int:request_id>/close", request_views.request_close, name="request-close"),
    path("requests/<int:request_id>/edit", request_views.request_edit, name="request-edit"),
    path("requests/<int:request_id>/reopen", request_views.request_reopen, name="request-reopen"),
    path("requests/<int:request_id>/items/<int:item_id>/accept", request_views.item_accept, name="request-item-accept"),
    path(
        "requests/<int:request_id>/items/<int:item_id>/changes", request_views.item_changes, name="request-item-changes"
    ),
    path("requests/<int:request_id>/bundle", bundle_views.request_bundle, name="request-bundle"),
    path("bundles/<uuid:bundle_id>/", bundle_views.bundle_page, name="bundle"),
    path("bundles/<uuid:bundle_id>/status", bundle_views.bundle_status, name="bundle-status"),
    path("bundles/<uuid:bundle_id>/download", bundle_views.bundle_download, name="bundle-download"),
    path("events/", event_views.events_page, name="events"),
    path("events/cors", health_views.cors_check_page, name="cors-check"),
    path("events/doctor", doctor_views.doctor_page, name="doctor"),
    path("stats/", stats_views.stats_page, name="stats"),
    path("audit/", audit_views.audit_page, name="audit"),
    path("audit/export.csv", audit_views.audit_export, name="audit-export"),
]
