"""deploy/intake.yaml's S3/SQS/IAM/SNS part, deployed to moto's CloudFormation.

moto's CloudFormation cannot create the Cognito, SES, SQS queue-policy, SNS
subscription or CloudWatch alarm resources (it skips unsupported types), nor any of
the CloudFront ones (distribution, origin access control, key group, policies) and
the bucket policies, so those are left out of the stack
here, with the outputs that name them; the unit tests check them statically. Nothing
emulates CloudFront itself (see docs/testing.md). moto also ignores an AWS::S3::Bucket's CorsConfiguration,
LifecycleConfiguration, NotificationConfiguration and PublicAccessBlockConfiguration
(it applies only BucketEncryption and Tags), so those are not checked here either:
asserting them would only test moto.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from deploy import render_env
from deploy.template import load

pytestmark = pytest.mark.integration

MOTO_CAN_CREATE = {"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::KMS::Key"}
REGION = "eu-west-1"
PARAMETERS = {
    "SiteDomain": "files.example.test",
    "BusinessName": "Acme Accounting",
    "AdminEmail": "boss@example.test",
    "MailFromAddress": "intake@example.test",
    "AuthDomainPrefix": "acme-intake",
    "RetentionDays": "3",
    "DownloadsPublicKeyA": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n",
}


def _names_used(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref":
                yield item
            elif key == "Fn::GetAtt":
                yield item[0]
            else:
                yield from _names_used(item)
    elif isinstance(value, list):
        for item in value:
            yield from _names_used(item)


def moto_part_of_the_template() -> tuple[dict[str, Any], set[str]]:
    """The template with only the resources moto can create, and the outputs that need nothing else."""
    template = load()
    kept = {name for name, r in template["Resources"].items() if r["Type"] in MOTO_CAN_CREATE}
    template["Resources"] = {name: r for name, r in template["Resources"].items() if name in kept}
    for resource in template["Resources"].values():
        if resource.get("DependsOn") not in (None, *kept):
            del resource["DependsOn"]  # the bucket waits for the queue and logs policies on AWS
    known = kept | set(template["Parameters"])
    outputs = {
        key: o
        for key, o in template["Outputs"].items()
        if "Condition" not in o and all(n in known or n.startswith("AWS::") for n in _names_used(o["Value"]))
    }
    template["Outputs"] = outputs
    # The parameter rules guard the CloudFront parameters, whose resources are left out.
    template.pop("Rules", None)
    return template, kept


@pytest.fixture(scope="module")
def stack(s3_emulator) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    template, kept = moto_part_of_the_template()
    assert kept == {
        "StackKey",
        "LogsBucket",
        "UploadsBucket",
        "EventsQueue",
        "EventsDeadLetterQueue",
        "AppPolicy",
        "AlertsTopic",
    }
    cloudformation = boto3.client("cloudformation", endpoint_url=s3_emulator.endpoint_url, region_name=REGION)
    name = f"intake-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
    )
    (described,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    return {
        "name": name,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]},
        "endpoint": s3_emulator.endpoint_url,
    }


def _client(service: str, stack: dict[str, Any]) -> Any:
    return boto3.client(service, endpoint_url=stack["endpoint"], region_name=REGION)  # type: ignore[call-overload]


def test_the_bucket_is_made_with_its_name_and_default_encryption(stack: dict[str, Any]) -> None:
    bucket = stack["outputs"]["IntakeS3Bucket"]
    assert bucket.startswith(f"intake-123456789012-{REGION}-")
    s3 = _client("s3", stack)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_the_event_queue_redrives_to_the_dead_letter_queue(stack: dict[str, Any]) -> None:
    outputs = stack["outputs"]
    sqs = _client("sqs", stack)
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["IntakeS3EventsQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    dead_letters = sqs.get_queue_attributes(QueueUrl=outputs["IntakeS3EventsDlqUrl"], AttributeNames=["QueueArn"])
    assert attributes["QueueArn"] == outputs["IntakeS3EventsQueueArn"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters["Attributes"]["QueueArn"],
        "maxReceiveCount": int(outputs["IntakeSqsMaxReceives"]),
    }
    assert attributes["VisibilityTimeout"] == "120"


def test_the_app_policy_names_the_stacks_bucket_and_queues(stack: dict[str, Any]) -> None:
    outputs = stack["outputs"]
    iam = _client("iam", stack)
    policy = iam.get_policy(PolicyArn=outputs["AppPolicyArn"])["Policy"]
    document = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"][
        "Document"
    ]
    if isinstance(document, str):
        document = json.loads(document)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    bucket_arn = f"arn:aws:s3:::{outputs['IntakeS3Bucket']}"
    assert sorted(by_sid["ObjectsIntakeWrites"]["Resource"]) == sorted(
        f"{bucket_arn}/{prefix}/*" for prefix in ("uploads", "branding", "derived", "bundles")
    )
    assert by_sid["ListAndCheckTheBucket"]["Resource"] == bucket_arn
    assert by_sid["ConsumeEvents"]["Resource"] == outputs["IntakeS3EventsQueueArn"]
    assert by_sid["ReadAndReplayDeadLetters"]["Resource"].endswith(outputs["IntakeS3EventsDlqUrl"].rsplit("/", 1)[1])


def test_render_env_reads_the_outputs_of_a_deployed_stack(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack["endpoint"])
    outputs = render_env.outputs_from_aws(stack["name"], REGION)
    assert outputs == stack["outputs"]
    assert {render_env.setting_name(k) for k in outputs} >= {
        "INTAKE_S3_BUCKET",
        "INTAKE_S3_REGION",
        "INTAKE_S3_EVENTS_QUEUE_URL",
        "INTAKE_S3_EVENTS_DLQ_URL",
        "INTAKE_CORS_ALLOWED_ORIGINS",
        "INTAKE_PUBLIC_BASE_URL",
        "DJANGO_ALLOWED_HOSTS",
        "INTAKE_COGNITO_DOMAIN",
    }
    assert outputs["IntakeMultipartAbortAfterDays"] == PARAMETERS["RetentionDays"]
    with pytest.raises(render_env.RenderError, match="cannot read stack no_such_stack"):
        render_env.outputs_from_aws("no_such_stack", REGION)
