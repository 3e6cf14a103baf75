"""The upload contract, mounted at /api/ for signed-in staff."""

from django.urls import path, re_path

from uploader.api import contract as api
from uploader.api import openapi
from uploader.api import read as read_api
from uploader.api.decorators import no_such_call
from uploader.ingest import push_views as webhooks
from uploader.ingest import sns_views

app_name = "uploader"

# The upload contract; also mounted under each portal (uploader.portals.urls).
contract_urlpatterns = [
    path("s3/params", api.sign_single_upload, name="s3-params"),
    path("s3/complete", api.complete_single_upload, name="s3-complete"),
    path("s3/multipart", api.create_multipart_upload, name="s3-multipart-create"),
    path("s3/multipart/<str:upload_id>", api.multipart_upload, name="s3-multipart"),
    path("s3/multipart/<str:upload_id>/batch", api.sign_part_batch, name="s3-multipart-batch"),
    path("s3/multipart/<str:upload_id>/complete", api.complete_multipart_upload, name="s3-multipart-complete"),
    path("s3/multipart/<str:upload_id>/<int:part_number>", api.sign_part, name="s3-multipart-part"),
    path("uploads/<uuid:upload_id>", api.upload_detail, name="upload-detail"),
]
# Last in each mount: any other path under it is a JSON 404, as the document says.
NO_SUCH_CALL = re_path(r"", no_such_call, name="no-such-call")
# What a portal mounts (uploader.portals.urls).
portal_urlpatterns = [*contract_urlpatterns, NO_SUCH_CALL]

urlpatterns = [
    *contract_urlpatterns,
    path("uploads", read_api.upload_list, name="upload-list"),
    path("uploads/<uuid:upload_id>/download", read_api.upload_download, name="upload-download"),
    path("events/s3", webhooks.s3_event_webhook, name="s3-event-webhook"),
    path("events/sns", sns_views.sns_endpoint, name="sns-endpoint"),
    path("openapi.json", openapi.openapi_document, name="openapi"),
    NO_SUCH_CALL,
]
