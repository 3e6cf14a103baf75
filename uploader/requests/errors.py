"""The requests package's refusals, answered by the upload contract and the staff pages."""

from __future__ import annotations

from uploader.uploads.errors import WrongState


class ItemWrongState(WrongState):
    """The item (or its request) is not in a state this move starts from: a 409 on the contract."""

    code = "item_wrong_state"
