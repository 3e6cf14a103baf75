"""The portal pages and the upload contract, mounted under /p/<token>/.

The contract views are the staff API's own; `contract_api` sees the `portal_token`
URL argument and resolves the caller through `uploader.portal_access`.
"""

from django.urls import include, path

from uploader import api, portal_views

app_name = "portal"

contract_patterns = (
    [
        path("s3/params", api.sign_single_upload, name="s3-params"),
        path("s3/complete", api.complete_single_upload, name="s3-complete"),
        path("s3/multipart", api.create_multipart_upload, name="s3-multipart-create"),
        path("s3/multipart/<str:upload_id>", api.multipart_upload, name="s3-multipart"),
        path("s3/multipart/<str:upload_id>/batch", api.sign_part_batch, name="s3-multipart-batch"),
        path("s3/multipart/<str:upload_id>/complete", api.complete_multipart_upload, name="s3-multipart-complete"),
        path("s3/multipart/<str:upload_id>/<int:part_number>", api.sign_part, name="s3-multipart-part"),
        path("uploads/<uuid:upload_id>", api.upload_detail, name="upload-detail"),
    ],
    "api",
)

urlpatterns = [
    path("", portal_views.portal_page, name="page"),
    path("unlock", portal_views.portal_unlock, name="unlock"),
    path("identify", portal_views.portal_identify, name="identify"),
    path("done", portal_views.portal_done, name="done"),
    path("receipt", portal_views.portal_receipt, name="receipt"),
    path("api/", include(contract_patterns)),
]
