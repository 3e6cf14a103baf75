"""The input of each contract call, as one Django form per call.

Forms bind a query string as it is, or a JSON body parsed to a dict (`json_body`);
`ContractForm.values()` answers the cleaned values or raises the first error as
InvalidInput naming the field as the client sent it (a 400 `{"message", "code":
"invalid", "field"}`). Only the shape of the input is checked here: limits and ranges
that depend on the caller or the upload (sizes, part numbers) are the services'.

JSON values can be any type, so the fields here accept only the types they expect
and never turn a list or an object into text: a value nested deeply enough would
overflow the stack while being printed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, ValidationError
from django.http import HttpRequest

from uploader.uploads import checksums
from uploader.uploads.errors import InvalidInput
from uploader.uploads.services import PartETag

MAX_BATCH_QUERY_LENGTH = 8_000


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object a POST carries; an empty body is an empty object."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise InvalidInput("The request body is too large.") from None
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:  # nested deeper than the parser's stack allows
        raise InvalidInput("The request body is nested too deeply.") from None
    except ValueError:  # also bad UTF-8, and integers of more than 4,300 digits
        raise InvalidInput("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return body


def _message(error: ValidationError, field: str) -> str:
    """Messages name their field as `%(field)s`: the form knows the name, the field does not."""
    message = str(error.message)
    return message % {"field": field, **(error.params or {})} if "%(" in message else message


def _whole_number(value: Any) -> int:
    """An int, or text that is one; a bool is not (JSON's true is no size). A JSON number
    written with a fraction of zero (5.0, 5e6) is an integer to JSON Schema, so here too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValidationError("%(field)s must be a whole number.", code="invalid")


def _content_md5(value: str) -> str | None:
    try:
        return checksums.parse_content_md5(value, field="md5")
    except InvalidInput as exc:
        raise ValidationError(exc.message, code="invalid") from None


class FirstOf(forms.Widget):
    """Reads a value from the first place that has one: Uppy sends some values at the
    top level or in its metadata (`metadata[size]` in a query string, `{"metadata":
    {"size": …}}` in a body). A place is a key, or a path of keys into nested objects."""

    def __init__(self, *places: str | tuple[str, ...]) -> None:
        super().__init__()
        self.places = places

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        for place in self.places:
            value: Any = data
            for key in (place,) if isinstance(place, str) else place:
                value = value.get(key) if isinstance(value, Mapping) else None
            if value is not None and value != "":
                return value
        return None


class TextField(forms.CharField):
    """Text as sent (not stripped), and only text: not a number, list or object."""

    default_error_messages = {
        "required": "%(field)s is required.",
        "invalid": "%(field)s must be text.",
        "null_characters_not_allowed": "%(field)s cannot contain null characters.",  # the database could not hold one
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strip=False, **kwargs)

    def to_python(self, value: Any) -> str:
        if value not in self.empty_values and not isinstance(value, str):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return str(super().to_python(value))

    def validate(self, value: Any) -> None:
        super().validate(value)
        if self.required and not value.strip():
            raise ValidationError(self.error_messages["required"], code="required")


class WholeNumberField(forms.Field):
    """An int, or text that is one (query strings, and Uppy's metadata values)."""

    default_error_messages = {"required": "%(field)s is required."}

    def to_python(self, value: Any) -> int | None:
        return None if value in self.empty_values else _whole_number(value)


class PartNumberListField(forms.Field):
    """`1,2,3`. Empty is left to the service, which says a part number is needed."""

    def to_python(self, value: Any) -> list[int]:
        if value in self.empty_values:
            return []
        if not isinstance(value, str):
            raise ValidationError("%(field)s must be text.", code="invalid")
        if len(value) > MAX_BATCH_QUERY_LENGTH:
            raise ValidationError("%(field)s is too long.", code="max_length")
        return [_whole_number(number) for number in value.split(",") if number.strip()]


class PartsField(forms.Field):
    """`[{"PartNumber": 1, "ETag": "…"}, …]`. An empty list is left to the service."""

    default_error_messages = {
        "invalid": "parts must be a list of {PartNumber, ETag}.",
        "part": "Each part needs a PartNumber and an ETag.",
    }

    def to_python(self, value: Any) -> list[PartETag]:
        if not isinstance(value, list):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        parts = []
        for part in value:
            if not isinstance(part, dict) or not isinstance(part.get("ETag"), str) or part.get("PartNumber") is None:
                raise ValidationError(self.error_messages["part"], code="part")
            parts.append(PartETag(part_number=_whole_number(part["PartNumber"]), etag=part["ETag"]))
        return parts


def clean_value(field: forms.Field, value: Any, *, name: str) -> Any:
    """One value through one field, outside a form; its error names `name`."""
    try:
        return field.clean(value)
    except ValidationError as exc:
        raise InvalidInput(_message(exc.error_list[0], name), field=name) from None


class ContractForm(forms.Form):
    """Field names are the names clients send; errors name them."""

    def values(self) -> dict[str, Any]:
        if not self.is_valid():
            field, errors = next(iter(self.errors.as_data().items()))
            name = None if field == NON_FIELD_ERRORS else field
            raise InvalidInput(_message(errors[0], field), field=name)
        return self.cleaned_data


# --- one form per call ------------------------------------------------------------------------


class SignSingleUploadForm(ContractForm):
    """`GET s3/params?filename=&type=&size=&md5=`; size and md5 also as `metadata[…]`."""

    size = WholeNumberField(required=False, widget=FirstOf("size", "metadata[size]"))
    md5 = TextField(required=False, widget=FirstOf("md5", "metadata[md5]"))
    filename = TextField()
    type = TextField(required=False)

    def clean_md5(self) -> str | None:
        content_md5 = _content_md5(self.cleaned_data["md5"])
        if content_md5 and self.cleaned_data.get("size") is None:
            # Without a size the answer is a POST policy, which would not bind the digest.
            raise ValidationError("md5 needs the file's size too (send size or metadata[size]).")
        return content_md5


class KeyForm(ContractForm):
    """`?key=`: the calls on an upload that need nothing else."""

    key = TextField()


class CreateMultipartForm(ContractForm):
    """`POST s3/multipart` with `{filename, type, metadata: {size, partSize}}`, or size
    and partSize at the top level. The size may be left out (Uppy 6 sends none)."""

    size = WholeNumberField(required=False, widget=FirstOf("size", ("metadata", "size")))
    filename = TextField()
    type = TextField(required=False)
    partSize = WholeNumberField(required=False, widget=FirstOf("partSize", ("metadata", "partSize")))


class SignPartForm(ContractForm):
    """`GET s3/multipart/<uploadId>/<partNumber>?key=&md5=` (md5: the part's)."""

    md5 = TextField(required=False)
    key = TextField()

    def clean_md5(self) -> str | None:
        return _content_md5(self.cleaned_data["md5"])


class SignPartBatchForm(ContractForm):
    """`GET s3/multipart/<uploadId>/batch?key=&partNumbers=1,2,3`."""

    partNumbers = PartNumberListField(required=False)
    key = TextField()


class CompleteMultipartForm(ContractForm):
    """`POST s3/multipart/<uploadId>/complete?key=` with `{parts: [{PartNumber, ETag}]}`."""

    key = TextField()
    parts = PartsField(required=False)  # an empty list is the service's to refuse, with its message
