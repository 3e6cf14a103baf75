"""The portal pages and the upload contract, mounted under /p/<token>/.

The contract views are the staff API's own; this mount passes them who its callers
are (`principal_of`, with the `portal_token` URL argument), so the API needs nothing
from the portals package.
"""

from django.urls import include, path

from uploader.api.urls import portal_urlpatterns
from uploader.portals import views as portal_views
from uploader.portals.access import portal_principal

app_name = "portal"

contract_patterns = (portal_urlpatterns, "api")

urlpatterns = [
    path("", portal_views.portal_page, name="page"),
    path("unlock", portal_views.portal_unlock, name="unlock"),
    path("identify", portal_views.portal_identify, name="identify"),
    path("done", portal_views.portal_done, name="done"),
    path("receipt", portal_views.portal_receipt, name="receipt"),
    path("api/", include(contract_patterns), {"principal_of": portal_principal}),
]
