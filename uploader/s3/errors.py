"""What the rest of the app hears from S3: a few meanings, never a botocore exception.

Every call to S3 goes through `translate_errors`, which maps botocore's exceptions to
the few meanings the rest of the app cares about: the object or upload is not there,
S3 refused the request, or S3 cannot be reached right now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings

# The package's one logger name, as before it was a package (log settings name it).
logger = logging.getLogger("uploader.s3")


class StorageError(Exception):
    """Base of everything this module raises."""


class StorageUnavailable(StorageError):
    """S3 cannot be reached or answered with a server error; try again later."""


class StorageRefused(StorageError):
    """S3 answered with a client error that has no more specific meaning here."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class ObjectNotFound(StorageError):
    pass


class MultipartUploadNotFound(StorageError):
    pass


class BucketNotFound(StorageError):
    pass


@contextmanager
def translate_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise ObjectNotFound(operation) from exc
        if code == "NoSuchUpload":
            raise MultipartUploadNotFound(operation) from exc
        if code == "NoSuchBucket":
            raise BucketNotFound(settings.INTAKE_S3_BUCKET) from exc
        if status >= 500 or code in {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}:
            logger.warning("S3 %s failed with %s (HTTP %s)", operation, code, status)
            raise StorageUnavailable(f"S3 {operation} failed: {code}") from exc
        raise StorageRefused(code, str(error.get("Message", ""))) from exc
    except NoCredentialsError as exc:
        raise StorageUnavailable("no AWS credentials are configured") from exc
    except BotoCoreError as exc:
        # Connection refused/reset, timeouts, DNS: all mean "not reachable now".
        logger.warning("S3 %s unreachable: %s", operation, type(exc).__name__)
        raise StorageUnavailable(f"S3 {operation} unreachable") from exc
