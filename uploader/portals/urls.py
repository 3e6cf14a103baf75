"""The portal pages and the upload contract, mounted under /p/<token>/.

The contract views are the staff API's own; `contract_api` sees the `portal_token`
URL argument and resolves the caller through `uploader.portals.access`.
"""

from django.urls import include, path

from uploader.api.urls import contract_urlpatterns
from uploader.portals import views as portal_views

app_name = "portal"

contract_patterns = (contract_urlpatterns, "api")

urlpatterns = [
    path("", portal_views.portal_page, name="page"),
    path("unlock", portal_views.portal_unlock, name="unlock"),
    path("identify", portal_views.portal_identify, name="identify"),
    path("done", portal_views.portal_done, name="done"),
    path("receipt", portal_views.portal_receipt, name="receipt"),
    path("api/", include(contract_patterns)),
]
