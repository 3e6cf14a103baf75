"""The one package that talks to AWS; callers use `from uploader import s3` and `s3.<name>`.

Callers never see a botocore exception: every call maps them to the errors in
`errors` (not there, refused, unreachable). The modules:
- `client`: the boto3 session and clients, made once per process; the only module
  that imports boto3;
- `errors`: the exceptions callers catch, and `translate_errors`;
- `presign`: pre-signed URLs and POST policies (our SigV4 signer or botocore's);
- `objects`: objects and multipart uploads;
- `streams`, `multipart_writer`, `read_ahead`: an object read in chunks, an object written
  as a stream (a multipart upload), objects read ahead by a background thread;
- `object_lock`: legal holds, and deleting every version of a key (Object Lock buckets);
- `app_files`: the app's own objects (logos, derived files) through Django's
  STORAGES["intake"] (django-storages);
- `bucket_config`: the bucket's configuration, for `manage.py setup_bucket`, and
  the readiness probe;
- `queues`: SQS: the consumer's calls, the dead-letter queue's set-up and the
  dashboard's look into it;
- `diagnostics`: S3's clock, CloudFront's trusted keys, SES identities and CloudWatch
  (`manage.py doctor`, metrics, the published backlog).

Every public name callers use is re-exported here; private helpers are not. Tests
import or patch those where they are defined (e.g. `uploader.s3.presign._utcnow`):
the package's functions call each other directly, not through this namespace.
"""

from uploader.s3 import queues
from uploader.s3.app_files import app_file_delete, app_file_save, app_storage, forget_app_storage
from uploader.s3.bucket_config import (
    bucket_exists,
    create_bucket,
    ensure_push_topic,
    ensure_queue,
    get_cors_rules,
    get_encryption_rules,
    get_lifecycle_rules,
    get_notifications,
    get_public_access_block,
    ping,
    put_cors_rules,
    put_encryption_rules,
    put_lifecycle_rules,
    put_notifications,
    put_public_access_block,
    sends_to_eventbridge,
)
from uploader.s3.client import boto3_client, cloudwatch_client, forget_clients, sqs_client
from uploader.s3.diagnostics import (
    Distribution,
    ServerClock,
    cloudfront_distribution,
    cloudfront_key_group_key_ids,
    cloudfront_public_key_pem,
    put_metric_value,
    s3_server_clock,
    ses_identity_status,
)
from uploader.s3.errors import (
    BucketNotFound,
    MultipartUploadNotFound,
    ObjectNotFound,
    StorageError,
    StorageRefused,
    StorageUnavailable,
    translate_errors,
)
from uploader.s3.multipart_writer import MultipartWriter, abort_multipart_upload_quietly
from uploader.s3.object_lock import delete_object_versions, get_object_legal_hold, put_object_legal_hold
from uploader.s3.objects import (
    ObjectHead,
    ObjectSummary,
    ObjectTooLarge,
    OpenMultipartUpload,
    UploadedPart,
    abort_multipart_upload,
    complete_multipart_upload,
    create_multipart_upload,
    delete_object,
    get_object_bytes,
    get_object_head_bytes,
    get_object_prefix_bytes,
    head_object,
    head_object_or_none,
    list_objects,
    list_open_multipart_uploads,
    list_parts,
    put_object_bytes,
)
from uploader.s3.presign import (
    PresignedPost,
    forget_signer,
    presign_get_object,
    presign_post_object,
    presign_put_object,
    presign_upload_part,
    presign_upload_parts,
)
from uploader.s3.queues import (
    ReceivedMessage,
    queue_arn,
    queue_change_visibility,
    queue_create,
    queue_delete,
    queue_delete_many,
    queue_depth,
    queue_receive,
    queue_redrive_policy,
    queue_release,
    queue_send,
    queue_set_redrive_policy,
    queue_url,
    queue_url_from_arn,
    queue_url_or_none,
)
from uploader.s3.read_ahead import ReadAhead, read_objects_ahead
from uploader.s3.streams import iter_object_chunks, move_object


def reset_clients() -> None:
    """Forget cached clients, the signer made from them and the app files' storage;
    tests call it after pointing settings at another endpoint."""
    forget_clients()
    forget_signer()
    forget_app_storage()


__all__ = [
    "BucketNotFound",
    "Distribution",
    "MultipartUploadNotFound",
    "MultipartWriter",
    "ObjectHead",
    "ObjectNotFound",
    "ObjectSummary",
    "ObjectTooLarge",
    "OpenMultipartUpload",
    "PresignedPost",
    "ReadAhead",
    "ReceivedMessage",
    "ServerClock",
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
    "cloudfront_distribution",
    "cloudfront_key_group_key_ids",
    "cloudfront_public_key_pem",
    "cloudwatch_client",
    "complete_multipart_upload",
    "create_bucket",
    "create_multipart_upload",
    "delete_object",
    "delete_object_versions",
    "ensure_push_topic",
    "ensure_queue",
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
    "presign_upload_part",
    "presign_upload_parts",
    "put_cors_rules",
    "put_encryption_rules",
    "put_lifecycle_rules",
    "put_metric_value",
    "put_notifications",
    "put_object_bytes",
    "put_object_legal_hold",
    "put_public_access_block",
    "queue_arn",
    "queue_change_visibility",
    "queue_create",
    "queue_delete",
    "queue_delete_many",
    "queue_depth",
    "queue_receive",
    "queue_redrive_policy",
    "queue_release",
    "queue_send",
    "queue_set_redrive_policy",
    "queue_url",
    "queue_url_from_arn",
    "queue_url_or_none",
    "queues",
    "read_objects_ahead",
    "reset_clients",
    "s3_server_clock",
    "sends_to_eventbridge",
    "ses_identity_status",
    "sqs_client",
    "translate_errors",
]
