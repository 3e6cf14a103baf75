"""What `manage.py doctor` and the metrics ask AWS beyond the bucket's configuration:
S3's clock, the CloudFront distribution and its trusted keys, the SES sender
identity, and CloudWatch for the published Celery backlog. Errors are translated
like everywhere else in the package."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings

from uploader.s3.client import _aws_client, _client
from uploader.s3.errors import StorageRefused, translate_errors

# CloudFront is a global service whose API lives in us-east-1.
CLOUDFRONT_REGION = "us-east-1"


@dataclass(frozen=True)
class ServerClock:
    """S3's `Date` header as it was sent, and this machine's clock (epoch seconds)
    just before the request and just after the answer."""

    server_date: str
    local_before: float
    local_after: float


def s3_server_clock() -> ServerClock:
    """One HeadBucket; its answer's `Date`. A refused request (S3 refuses a request
    signed with a clock 15 minutes off) still carries the header, so it is read from
    errors too."""
    before = time.time()
    with translate_errors("HeadBucket"):
        try:
            answer: dict[str, Any] = _client().head_bucket(Bucket=settings.INTAKE_S3_BUCKET)
        except ClientError as exc:
            answer = dict(exc.response)
    after = time.time()
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return ServerClock(server_date=str(headers.get("date", "")), local_before=before, local_after=after)


@dataclass(frozen=True)
class Distribution:
    id: str
    domain_name: str
    key_group_ids: tuple[str, ...]


def cloudfront_distribution(domain: str) -> Distribution | None:
    """The distribution serving `domain` (its cloudfront.net name or an alias), with
    the key groups its cache behaviours trust; None when no distribution has it."""
    client = _aws_client("cloudfront", CLOUDFRONT_REGION)
    marker = ""
    while True:
        with translate_errors("ListDistributions"):
            page = client.list_distributions(**({"Marker": marker} if marker else {}))["DistributionList"]
        for item in page.get("Items", []) or []:
            aliases = (item.get("Aliases") or {}).get("Items", []) or []
            if domain in {item.get("DomainName"), *aliases}:
                behaviours = [
                    item.get("DefaultCacheBehavior") or {},
                    *((item.get("CacheBehaviors") or {}).get("Items") or []),
                ]
                groups = {
                    group
                    for behaviour in behaviours
                    for group in ((behaviour.get("TrustedKeyGroups") or {}).get("Items") or [])
                }
                return Distribution(
                    id=str(item["Id"]), domain_name=str(item.get("DomainName", "")), key_group_ids=tuple(sorted(groups))
                )
        if not page.get("IsTruncated"):
            return None
        marker = str(page.get("NextMarker", ""))


def cloudfront_key_group_key_ids(group_id: str) -> list[str]:
    with translate_errors("GetKeyGroup"):
        group = _aws_client("cloudfront", CLOUDFRONT_REGION).get_key_group(Id=group_id)
    return [str(key) for key in group["KeyGroup"]["KeyGroupConfig"].get("Items", [])]


def cloudfront_public_key_pem(key_id: str) -> str | None:
    """The public key CloudFront holds under `key_id` (PEM), or None if it has none."""
    try:
        with translate_errors("GetPublicKey"):
            answer = _aws_client("cloudfront", CLOUDFRONT_REGION).get_public_key(Id=key_id)
    except StorageRefused as exc:
        if exc.code == "NoSuchPublicKey":
            return None
        raise
    return str(answer["PublicKey"]["PublicKeyConfig"]["EncodedKey"])


def ses_identity_status(identity: str, *, region: str) -> str:
    """SES's verification status of an address or domain ("Success", "Pending",
    "Failed", ...), or "" when SES does not know the identity."""
    with translate_errors("GetIdentityVerificationAttributes"):
        answer = _aws_client("ses", region).get_identity_verification_attributes(Identities=[identity])
    return str(answer.get("VerificationAttributes", {}).get(identity, {}).get("VerificationStatus", ""))


def put_metric_value(
    *, namespace: str, name: str, value: float, dimensions: dict[str, str], unit: str = "Count"
) -> None:
    """One CloudWatch data point, timestamped now."""
    with translate_errors("PutMetricData"):
        _aws_client("cloudwatch").put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": key, "Value": val} for key, val in sorted(dimensions.items())],
                    "Value": float(value),
                    "Unit": unit,
                }
            ],
        )
