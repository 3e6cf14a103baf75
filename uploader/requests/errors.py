"""The requests package's refusals, answered by the upload contract, the requests API
and the staff pages."""

from __future__ import annotations

from uploader.uploads.errors import UploadError, WrongState


class ItemWrongState(WrongState):
    """The item (or its request) is not in a state this move starts from: a 409 on the contract."""

    code = "item_wrong_state"


class RequestNotFound(UploadError):
    """No such request, or no such item of this request (an item of another one looks
    the same): a 404 on the requests API."""

    status = 404
    code = "not_found"
