"""CloudFront downloads: the configured private key is the one CloudFront holds under
INTAKE_CLOUDFRONT_KEY_ID, and the distribution serving INTAKE_CLOUDFRONT_DOMAIN trusts
that key. Otherwise every download link is refused with a 403."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from uploader import s3
from uploader.ops.cors_check.results import CheckResult, failed, passed, skipped
from uploader.s3 import cloudfront

PART = "cloudfront"
ROTATION = "docs/operations.md, 'Rotating the CloudFront signing key'"
PERMISSIONS = "allow cloudfront:GetPublicKey, ListDistributions and GetKeyGroup to the app's role"


def cloudfront_checks() -> list[CheckResult]:
    domain, key_id = settings.INTAKE_CLOUDFRONT_DOMAIN, settings.INTAKE_CLOUDFRONT_KEY_ID
    if not domain:
        return [
            skipped(PART, "CloudFront", "not configured (INTAKE_CLOUDFRONT_DOMAIN is empty): downloads are S3 URLs")
        ]
    results = []
    for check, name in (
        (_key_check, f"private key matches public key {key_id}"),
        (_distribution_check, f"distribution for {domain} trusts {key_id}"),
    ):
        try:
            results.append(check(domain, key_id))
        except s3.StorageRefused as exc:
            results.append(failed(PART, name, f"CloudFront refused to say ({exc.code})", PERMISSIONS))
        except s3.StorageError as exc:
            results.append(failed(PART, name, f"CloudFront does not answer ({exc})", "check the network"))
    return results


def _key_check(domain: str, key_id: str) -> CheckResult:
    name = f"private key matches public key {key_id}"
    try:
        ours = cloudfront.configured_public_key_pem()
    except ImproperlyConfigured as exc:
        return failed(PART, name, str(exc), "fix INTAKE_CLOUDFRONT_PRIVATE_KEY / INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE")
    theirs = s3.cloudfront_public_key_pem(key_id)
    if theirs is None:
        fix = "set INTAKE_CLOUDFRONT_KEY_ID to the stack's IntakeCloudfrontKeyId output"
        return failed(PART, name, f"CloudFront has no public key {key_id}", fix)
    if not cloudfront.same_public_key(ours, theirs):
        detail = (
            f"the configured private key is not the pair of public key {key_id}: CloudFront refuses every link (403)"
        )
        fix = f"install the private key of {key_id}, or set INTAKE_CLOUDFRONT_KEY_ID to this key's id ({ROTATION})"
        return failed(PART, name, detail, fix)
    return passed(PART, name, "the key pair matches")


def _distribution_check(domain: str, key_id: str) -> CheckResult:
    name = f"distribution for {domain} trusts {key_id}"
    distribution = s3.cloudfront_distribution(domain)
    if distribution is None:
        return failed(
            PART,
            name,
            f"no distribution serves {domain}",
            "set INTAKE_CLOUDFRONT_DOMAIN to the stack's downloads domain",
        )
    trusted = {key for group in distribution.key_group_ids for key in s3.cloudfront_key_group_key_ids(group)}
    if key_id not in trusted:
        detail = f"distribution {distribution.id} trusts {', '.join(sorted(trusted)) or 'no key'}"
        return failed(PART, name, detail, f"add public key {key_id} to the distribution's key group ({ROTATION})")
    return passed(PART, name, f"distribution {distribution.id}")
