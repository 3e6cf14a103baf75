"""A document request's client pages and the upload contract, mounted under /r/.

The contract views are the staff API's own, mounted once per item at
`/r/<token>/items/<item id>/api/`. Like the portal mount (uploader.portals.urls) it
passes the views who its callers are (`principal_of`) with one URL argument, the
contract's `portal_token`: here the token and the item id together ("<token>/items/<id>",
one path converter), which `request_item_principal` splits. The API needs nothing
from this package.
"""

from django.urls import include, path, register_converter

from uploader.api.urls import portal_urlpatterns
from uploader.requests import views
from uploader.requests.access import request_item_principal


class ItemKeyConverter:
    """`<token>/items/<item id>` as one value (the token's shape is checked again
    before any lookup)."""

    regex = r"[A-Za-z0-9_-]{32}/items/[0-9]{1,18}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ItemKeyConverter, "request_item_key")

app_name = "requests"

contract_patterns = (portal_urlpatterns, "api")

urlpatterns = [
    path("<str:request_token>/", views.request_page, name="page"),
    path("<str:request_token>/code/", views.code_page, name="code"),
    path("<str:request_token>/password/", views.password_page, name="password"),
    path("<str:request_token>/items/<int:item_id>/", views.item_page, name="item"),
    path("<str:request_token>/later/<str:signed>/", views.later_page, name="later"),
    path("<request_item_key:portal_token>/api/", include(contract_patterns), {"principal_of": request_item_principal}),
]
