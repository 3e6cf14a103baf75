"""The boto3 clients, made once per process; the only module that imports boto3.

Making a client costs milliseconds and a lot of memory, so each is cached. The S3
client uses SigV4, path- or virtual-hosted addressing from settings, short timeouts,
and request checksums only "when required": since botocore 1.36 the default adds
CRC32 checksums that browsers uploading to pre-signed URLs would then have to send
too.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings


@functools.cache
def _session() -> boto3.session.Session:
    if settings.INTAKE_S3_ACCESS_KEY_ID:
        return boto3.session.Session(
            region_name=settings.INTAKE_S3_REGION,
            aws_access_key_id=settings.INTAKE_S3_ACCESS_KEY_ID,
            aws_secret_access_key=settings.INTAKE_S3_SECRET_ACCESS_KEY,
        )
    return boto3.session.Session(region_name=settings.INTAKE_S3_REGION)


def s3_client_config() -> Config:
    """The S3 client's configuration, shared with the app's file storage (`app_files`)."""
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.INTAKE_S3_ADDRESSING_STYLE},
        connect_timeout=settings.INTAKE_S3_CONNECT_TIMEOUT,
        read_timeout=settings.INTAKE_S3_READ_TIMEOUT,
        retries={"total_max_attempts": settings.INTAKE_S3_MAX_ATTEMPTS, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


@functools.cache
def _client() -> Any:
    return _session().client("s3", endpoint_url=settings.INTAKE_S3_ENDPOINT_URL, config=s3_client_config())


@functools.cache
def _sqs_client() -> Any:
    return _session().client(
        "sqs",
        endpoint_url=settings.INTAKE_SQS_ENDPOINT_URL or settings.INTAKE_S3_ENDPOINT_URL,
        config=Config(
            connect_timeout=settings.INTAKE_S3_CONNECT_TIMEOUT,
            read_timeout=20 + settings.INTAKE_S3_READ_TIMEOUT,  # outlasts the 20 s long poll
            retries={"total_max_attempts": settings.INTAKE_S3_MAX_ATTEMPTS, "mode": "standard"},
        ),
    )


def sqs_client() -> Any:
    """The configured SQS client, for tests that set up or inspect queues; the app goes
    through `uploader.s3.queues`."""
    return _sqs_client()


def sns_client() -> Any:
    # Ceph RGW serves its SNS-compatible topic API on the S3 endpoint itself.
    return _session().client(
        "sns",
        endpoint_url=settings.INTAKE_S3_ENDPOINT_URL,
        config=Config(
            connect_timeout=settings.INTAKE_S3_CONNECT_TIMEOUT,
            read_timeout=settings.INTAKE_S3_READ_TIMEOUT,
            retries={"total_max_attempts": settings.INTAKE_S3_MAX_ATTEMPTS, "mode": "standard"},
        ),
    )


@functools.cache
def _aws_client(service: str, region: str = "") -> Any:
    """CloudWatch, CloudFront or SES: the app's other, occasional AWS calls (metrics,
    `manage.py doctor`), with the same short timeouts."""
    return _session().client(
        service,
        region_name=region or None,
        endpoint_url=settings.INTAKE_AWS_ENDPOINT_URL,
        config=Config(
            connect_timeout=settings.INTAKE_S3_CONNECT_TIMEOUT,
            read_timeout=settings.INTAKE_S3_READ_TIMEOUT,
            retries={"total_max_attempts": settings.INTAKE_S3_MAX_ATTEMPTS, "mode": "standard"},
        ),
    )


def cloudwatch_client() -> Any:
    """The configured CloudWatch client, for tests that read metrics back."""
    return _aws_client("cloudwatch")


def forget_clients() -> None:
    """Drop the cached session and clients (see `uploader.s3.reset_clients`)."""
    _session.cache_clear()
    _client.cache_clear()
    _sqs_client.cache_clear()
    _aws_client.cache_clear()


def boto3_client() -> Any:
    """The configured client, for tests and benchmarks that compare against boto3."""
    return _client()
