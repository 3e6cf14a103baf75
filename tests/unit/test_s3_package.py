"""uploader.s3 is a package now; its callers still see one namespace, and boto3 stays in one module."""

import ast
from pathlib import Path

import pytest

from uploader import s3
from uploader.s3 import client, presign

ROOT = Path(__file__).resolve().parents[2]

# Everything the single module offered that callers (app, tests, benchmarks) use.
NAMES = [
    "BucketNotFound",
    "MultipartUploadNotFound",
    "MultipartWriter",
    "ObjectHead",
    "ObjectNotFound",
    "ObjectSummary",
    "ObjectTooLarge",
    "ReceivedMessage",
    "OpenMultipartUpload",
    "PresignedPost",
    "ReadAhead",
    "StorageError",
    "StorageRefused",
    "StorageUnavailable",
    "UploadedPart",
    "abort_multipart_upload",
    "abort_multipart_upload_quietly",
    "app_file_delete",
    "app_file_save",
    "app_storage",
    "boto3_client",
    "bucket_exists",
    "complete_multipart_upload",
    "create_bucket",
    "create_multipart_upload",
    "delete_object",
    "delete_object_versions",
    "ensure_push_topic",
    "ensure_queue",
    "queue_arn",
    "queue_change_visibility",
    "queue_create",
    "queue_delete",
    "queue_delete_many",
    "queue_receive",
    "queue_redrive_policy",
    "queue_release",
    "queue_send",
    "queue_set_redrive_policy",
    "queue_url",
    "queue_url_from_arn",
    "queue_url_or_none",
    "queues",
    "get_cors_rules",
    "get_encryption_rules",
    "get_lifecycle_rules",
    "get_notifications",
    "get_object_bytes",
    "get_object_head_bytes",
    "get_object_legal_hold",
    "get_object_prefix_bytes",
    "get_public_access_block",
    "head_object",
    "head_object_or_none",
    "iter_object_chunks",
    "list_objects",
    "list_open_multipart_uploads",
    "list_parts",
    "move_object",
    "ping",
    "presign_get_object",
    "presign_post_object",
    "presign_put_object",
    "put_object_legal_hold",
    "presign_upload_part",
    "presign_upload_parts",
    "put_cors_rules",
    "put_encryption_rules",
    "put_lifecycle_rules",
    "put_notifications",
    "put_object_bytes",
    "put_public_access_block",
    "reset_clients",
    "sqs_client",
    # diagnostics (manage.py doctor, metrics, the published backlog)
    "Distribution",
    "ServerClock",
    "cloudfront_distribution",
    "cloudfront_key_group_key_ids",
    "cloudfront_public_key_pem",
    "cloudwatch_client",
    "put_metric_value",
    "queue_depth",
    "read_objects_ahead",
    "s3_server_clock",
    "sends_to_eventbridge",
    "ses_identity_status",
    "translate_errors",
]
# Private helpers stay in their modules; tests import them from there.
PRIVATE = {
    "_client": client,
    "_session": client,
    "_sqs_client": client,
    "_aws_client": client,
    "_credentials": presign,
    "_presign_with_botocore": presign,
    "_signer": presign,
    "_utcnow": presign,
}


@pytest.mark.parametrize("name", NAMES)
def test_every_name_is_on_the_package(name: str) -> None:
    assert getattr(s3, name) is not None


def test_all_lists_exactly_the_reexported_names() -> None:
    assert set(s3.__all__) == set(NAMES)


@pytest.mark.parametrize("name", [*PRIVATE, "_translate_errors"])
def test_private_names_are_not_on_the_package(name: str) -> None:
    assert not hasattr(s3, name)


@pytest.mark.parametrize("name", PRIVATE)
def test_private_names_are_found_where_they_are_defined(name: str) -> None:
    module = PRIVATE[name]
    assert getattr(module, name).__module__ == module.__name__


def _imports_boto3(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "boto3" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "boto3":
            return True
    return False


def test_only_the_client_module_imports_boto3() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for folder in ("uploader", "dashboard", "config")
        for path in (ROOT / folder).rglob("*.py")
        if _imports_boto3(path)
    }
    assert importers == {"uploader/s3/client.py"}


def test_reset_clients_forgets_the_clients_and_the_signer(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.INTAKE_S3_ADDRESSING_STYLE = "path"
    settings.INTAKE_S3_BUCKET = "b"
    settings.INTAKE_S3_REGION = "us-east-1"
    s3.reset_clients()
    try:
        first = presign._signer()  # no request: the probe URL is only signed
        assert presign._signer() is first
        s3.reset_clients()
        assert presign._signer.cache_info().currsize == 0
        assert client._client.cache_info().currsize == 0
        assert client._session.cache_info().currsize == 0
        assert client._sqs_client.cache_info().currsize == 0
        assert presign._signer() is not first
    finally:
        s3.reset_clients()


RAW_DOORS = {"sqs_client", "boto3_client", "translate_errors"}


def _raw_door_uses(path: Path) -> set[str]:
    """Names of the package's raw clients (and its error mapping) a module reaches for."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in RAW_DOORS:
            used.add(node.attr)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("uploader.s3"):
            used |= {alias.name for alias in node.names if alias.name in RAW_DOORS}
    return used


def test_the_app_reaches_sqs_and_s3_only_through_the_package_wrappers() -> None:
    """One door per outside system: outside uploader/s3, no raw client calls (and so
    nothing that needs their errors translated)."""
    reaching = {
        str(path.relative_to(ROOT)): used
        for folder in ("uploader", "dashboard", "config")
        for path in (ROOT / folder).rglob("*.py")
        if "uploader/s3/" not in path.as_posix() and (used := _raw_door_uses(path))
    }
    assert reaching == {}


def test_the_package_imports_no_domain_package() -> None:
    """uploader.s3 is a door to AWS: domains use it, never the other way round."""
    outside = set()
    for path in (ROOT / "uploader" / "s3").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if node.module == "uploader"]
            outside |= {
                f"{path.name}: {name}" for name in modules if name.startswith("uploader") and not name.startswith("uploader.s3")
            }
    assert outside == set()
