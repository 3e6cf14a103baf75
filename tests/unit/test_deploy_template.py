"""deploy/intake.yaml and deploy/render_env.py agree with what the app expects.

Every expected value is read from the app (uploader.ops.bucket_setup's rules, the settings'
defaults, the URL names, the machine-scope mapping), so a change on either side
fails here. The rendered environment file is loaded by config.settings.production in
a subprocess, like tests/unit/test_settings.py does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.urls import reverse

from deploy import render_env
from deploy.template import load
from uploader.access.machine import scope_permissions
from uploader.ops import bucket_setup as bucket
from uploader.portals import branding as portal_branding
from uploader.processing.derivatives import DERIVED_PREFIX
from uploader.s3 import cloudfront

ROOT = Path(__file__).resolve().parents[2]
SITE = "files.example.test"
PARAMS = {
    "SiteDomain": SITE,
    "BusinessName": "Acme Accounting",
    "ContactEmail": "office@example.test",
    "ContactPhone": "+44 20 7946 0000",
    "BrandColour": "#123abc",
    "AdminEmail": "boss@example.test",
    "NotifyEmails": "ops@example.test",
    "MailFromAddress": "intake@example.test",
    "AuthDomainPrefix": "acme-intake",
    "CertificateArn": "",
    "RetentionDays": "3",
    "DownloadsPublicKeyA": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n",
    "DownloadsKeyLabelA": "2026-11",
    "DownloadsPublicKeyB": "",
    "DownloadsKeyLabelB": "b1",
    "DownloadsSigningKey": "A",
    "DownloadsDomain": "",
    "DownloadsCertificateArn": "",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/intake-acme/0a1b2c3d-1111-2222-3333-444455556666",
}


class _Values(dict[str, str]):
    """A resource not listed below stands for itself, as <Name> (a security group, a policy)."""

    def __missing__(self, name: str) -> str:
        return f"<{name}>"


# What describe-stacks would answer for the outputs that name a resource.
RESOURCE_VALUES = _Values(
    {
        "UploadsBucket": "intake-123456789012-eu-west-1-0a1b2c3d",
        "EventsQueue": "https://sqs.eu-west-1.amazonaws.com/123456789012/intake-EventsQueue-AbC",
        "EventsDeadLetterQueue": "https://sqs.eu-west-1.amazonaws.com/123456789012/intake-EventsDeadLetterQueue-DeF",
        "EventsQueue.Arn": "arn:aws:sqs:eu-west-1:123456789012:intake-EventsQueue-AbC",
        "UserPool": "eu-west-1_AbCdEf123",
        "WebClient": "4s1mpl3cl13nt1d0000000000",
        "MachineClient": "m4ch1n3cl13nt1d000000000",
        "AppPolicy": "arn:aws:iam::123456789012:policy/intake-AppPolicy-XyZ",
        "AlertsTopic": "arn:aws:sns:eu-west-1:123456789012:intake-AlertsTopic-XyZ",
        "DownloadsKeyA": "K2JCJMDEHXQW5F",
        "DownloadsKeyB": "K3OTHERKEYEXAMPLE",
        "DownloadsKeyGroup": "a1b2c3d4-key-group",
        "DownloadsOriginAccess.Id": "E1OACEXAMPLE",
        "DownloadsCachePolicy": "cache-policy-id",
        "DownloadsOriginRequestPolicy": "origin-request-policy-id",
        "DownloadsResponseHeaders": "response-headers-policy-id",
        "DownloadsDistribution": "E2QWRUHEXAMPLE",
        "DownloadsDistribution.DomainName": "d111111abcdef8.cloudfront.net",
        "UploadsBucket.Arn": "arn:aws:s3:::intake-123456789012-eu-west-1-0a1b2c3d",
        "UploadsBucket.RegionalDomainName": "intake-123456789012-eu-west-1-0a1b2c3d.s3.eu-west-1.amazonaws.com",
        "LogsBucket": "intake-acme-logsbucket-1a2b3c4d5e6f",
        "LogsBucket.Arn": "arn:aws:s3:::intake-acme-logsbucket-1a2b3c4d5e6f",
        "LogsBucket.DomainName": "intake-acme-logsbucket-1a2b3c4d5e6f.s3.amazonaws.com",
        "StackKey": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        "StackKey.Arn": "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        "EventsQueue.QueueName": "intake-EventsQueue-AbC",
        # With RunTheApp=yes (tests/unit/test_template_app.py)
        "Network": "vpc-0a1b2c3d",
        "PrivateSubnetA": "subnet-0aaa",
        "PrivateSubnetB": "subnet-0bbb",
        "PublicSubnetA": "subnet-1aaa",
        "PublicSubnetB": "subnet-1bbb",
        "AppFirewall": "sg-0app",
        "Cluster": "intake-intake-acme",
        "MigrateTask": "arn:aws:ecs:eu-west-1:123456789012:task-definition/intake-intake-acme-migrate:1",
        "AppLogs": "/intake/intake-acme",
        "AppLogs.Arn": "arn:aws:logs:eu-west-1:123456789012:log-group:/intake/intake-acme:*",
        "LoadBalancer.DNSName": "intake-1234567890.eu-west-1.elb.amazonaws.com",
        "Database.Endpoint.Address": "intake.abc123xyz.eu-west-1.rds.amazonaws.com",
        "Database.Endpoint.Port": "5432",
        "Database.MasterUserSecret.SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b-AbCdEf",
        "Cache.PrimaryEndPoint.Address": "master.intake-cache.abc123.euw1.cache.amazonaws.com",
        "Cache.PrimaryEndPoint.Port": "6379",
        "DjangoSecretKey": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:DjangoSecretKey-AbCdEf",
        "WebhookSigningKey": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:WebhookSigningKey-AbCdEf",
        "SignInClientSecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:SignInClientSecret-AbCdEf",
        "CacheAuthToken": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:CacheAuthToken-AbCdEf",
        "AppPolicy.Arn": "arn:aws:iam::123456789012:policy/intake-AppPolicy-XyZ",
    }
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


_NO_VALUE = object()


def resolve(value: Any, template: dict[str, Any], params: dict[str, str] | None = None) -> Any:
    """The few intrinsic functions the checked values use, with PARAMS (or `params`)
    and RESOURCE_VALUES; conditions are evaluated from the template's own."""
    params = PARAMS if params is None else params
    if isinstance(value, list):
        items = [resolve(v, template, params) for v in value]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in params:
            return params[name]
        return RESOURCE_VALUES[name]
    if set(value) == {"Fn::GetAtt"}:
        return RESOURCE_VALUES[".".join(value["Fn::GetAtt"])]
    if set(value) == {"Fn::Sub"}:
        text, names = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        names = {**params, **{k: str(resolve(v, template, params)) for k, v in names.items()}}
        # ${Param}, ${AWS::Region}, or a resource (${Name}, ${Name.Attribute}).
        return re.sub(r"\$\{([\w:.]+)\}", lambda m: str(names.get(m.group(1), RESOURCE_VALUES.get(m.group(1)))), text)
    if set(value) == {"Fn::Split"}:
        separator, text = value["Fn::Split"]
        return str(resolve(text, template, params)).split(separator)
    if set(value) == {"Fn::Select"}:
        index, items = value["Fn::Select"]
        return resolve(items, template, params)[int(index)]
    if set(value) == {"Fn::FindInMap"}:
        mapping, key, attribute = (resolve(v, template, params) for v in value["Fn::FindInMap"])
        return template["Mappings"][mapping][key][attribute]
    if set(value) == {"Fn::If"}:
        condition, when_true, when_false = value["Fn::If"]
        chosen = when_true if condition_holds(condition, template, params) else when_false
        return resolve(chosen, template, params)
    return {k: v for k, item in value.items() if (v := resolve(item, template, params)) is not _NO_VALUE}


def condition_holds(name: str, template: dict[str, Any], params: dict[str, str] | None = None) -> bool:
    params = PARAMS if params is None else params

    def evaluate(expression: Any) -> Any:
        if not isinstance(expression, dict):
            return expression
        ((function, argument),) = expression.items()
        if function == "Condition":
            return condition_holds(argument, template, params)
        if function == "Fn::Equals":
            return evaluate(argument[0]) == evaluate(argument[1])
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function == "Fn::And":
            return all(evaluate(a) for a in argument)
        if function == "Fn::Or":
            return any(evaluate(a) for a in argument)
        return resolve(expression, template, params)

    return bool(evaluate(template["Conditions"][name]))


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_the_bucket_rules_are_the_ones_setup_bucket_writes(template: dict[str, Any]) -> None:
    props = resolve(template["Resources"]["UploadsBucket"]["Properties"], template)
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    wanted = bucket.desired_cors_rule([f"https://{SITE}"])
    assert {
        "ID": cors["Id"],
        "AllowedOrigins": cors["AllowedOrigins"],
        "AllowedMethods": cors["AllowedMethods"],
        "AllowedHeaders": cors["AllowedHeaders"],
        "ExposeHeaders": cors["ExposedHeaders"],
        "MaxAgeSeconds": cors["MaxAge"],
    } == wanted
    assert "ETag" in cors["ExposedHeaders"]

    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    wanted_lifecycle = bucket.desired_lifecycle_rule(int(PARAMS["RetentionDays"]))
    assert lifecycle["Id"] == wanted_lifecycle["ID"]
    assert lifecycle["Prefix"] == wanted_lifecycle["Filter"]["Prefix"]
    assert lifecycle["Status"] == wanted_lifecycle["Status"]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": PARAMS["RetentionDays"]}

    assert props["PublicAccessBlockConfiguration"] == bucket.PUBLIC_ACCESS_BLOCK
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert "VersioningConfiguration" not in props


def test_events_go_to_the_queue_for_the_uploads_prefix_only(template: dict[str, Any]) -> None:
    queue_arn = RESOURCE_VALUES["EventsQueue.Arn"]
    wanted = bucket.desired_queue_notification(queue_arn)
    configs = resolve(template["Resources"]["UploadsBucket"]["Properties"]["NotificationConfiguration"], template)
    assert set(configs) == {"QueueConfigurations"}
    assert sorted(c["Event"] for c in configs["QueueConfigurations"]) == sorted(wanted["Events"])
    for config in configs["QueueConfigurations"]:
        assert config["Queue"] == queue_arn
        assert config["Filter"]["S3Key"]["Rules"] == [
            {"Name": r["Name"], "Value": r["Value"]} for r in wanted["Filter"]["Key"]["FilterRules"]
        ]


def test_only_this_bucket_may_send_to_the_queue_and_failures_go_to_the_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    (statement,) = resolve(resources["EventsQueuePolicy"]["Properties"]["PolicyDocument"], template)["Statement"]
    bucket_name = resolve(resources["UploadsBucket"]["Properties"]["BucketName"], template)
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == f"arn:aws:s3:::{bucket_name}"
    redrive = resources["EventsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    assert str(redrive["maxReceiveCount"]) == template["Outputs"]["IntakeSqsMaxReceives"]["Value"]


def test_the_web_client_matches_the_apps_sign_in(template: dict[str, Any]) -> None:
    client = resolve(template["Resources"]["WebClient"]["Properties"], template)
    assert client["GenerateSecret"] is True
    assert client["AllowedOAuthFlows"] == ["code"]
    assert set(client["AllowedOAuthScopes"]) == set(settings.OIDC_RP_SCOPES.split())
    assert client["CallbackURLs"] == [f"https://{SITE}{reverse('oidc_authentication_callback')}"]
    assert client["LogoutURLs"] == [f"https://{SITE}{reverse('signed-out')}"]


def test_groups_are_the_role_groups_and_the_first_admin_is_in_the_admin_group(template: dict[str, Any]) -> None:
    groups = {r["Properties"]["GroupName"] for r in resources_of_type(template, "AWS::Cognito::UserPoolGroup").values()}
    assert groups == {
        *settings.INTAKE_ROLE_GROUPS_ADMIN,
        *settings.INTAKE_ROLE_GROUPS_STAFF,
        *settings.INTAKE_ROLE_GROUPS_VIEWER,
    }
    attachment = template["Resources"]["FirstAdminIsAdmin"]["Properties"]
    admins_group = template["Resources"][attachment["GroupName"]["Ref"]]["Properties"]["GroupName"]
    assert admins_group in settings.INTAKE_ROLE_GROUPS_ADMIN
    pool = template["Resources"]["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "OPTIONAL"


def test_the_resource_server_and_machine_client_give_the_apps_scopes(template: dict[str, Any]) -> None:
    server = template["Resources"]["ApiResourceServer"]["Properties"]
    assert server["Identifier"] == settings.INTAKE_MACHINE_SCOPE_PREFIX
    assert template["Outputs"]["IntakeMachineScopePrefix"]["Value"] == settings.INTAKE_MACHINE_SCOPE_PREFIX
    scopes = {f"{server['Identifier']}/{s['ScopeName']}" for s in server["Scopes"]}
    assert all(scope_permissions(frozenset({scope})) for scope in scopes), "a scope the app ignores"
    machine = template["Resources"]["MachineClient"]["Properties"]
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]
    assert set(machine["AllowedOAuthScopes"]) == scopes
    assert scope_permissions(frozenset(scopes)) == scope_permissions(
        frozenset({"intake/upload", "intake/read", "intake/requests"})
    )
    # Each scope gives something the others do not (no scope the app treats as another's name).
    for scope in scopes:
        assert scope_permissions(frozenset(scopes - {scope})) < scope_permissions(frozenset(scopes)), scope


def test_the_app_policy_names_its_resources(template: dict[str, Any]) -> None:
    statements = template["Resources"]["AppPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (objects,) = [s for s in statements if s["Sid"] == "ObjectsIntakeWrites"]
    prefixes = {resolve(r, template).split("/", 1)[1] for r in objects["Resource"]}
    assert prefixes == {
        f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/*",
        f"{portal_branding.BRANDING_PREFIX}/*",
        f"{DERIVED_PREFIX}/*",
        f"{settings.INTAKE_BUNDLE_PREFIX}/*",
    }
    for statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources
        assert not any(isinstance(r, str) and r.endswith(":*") for r in resources)
        assert not any(
            a.endswith("*")
            for a in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        )
    (ses,) = [s for s in statements if s["Sid"] == "SendMailAsTheSender"]
    assert resolve(ses["Condition"], template) == {"StringEquals": {"ses:FromAddress": PARAMS["MailFromAddress"]}}


def _names_read_by_settings() -> set[str]:
    text = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "config" / "settings").glob("*.py"))
    return set(re.findall(r"""(?:env(?:\.\w+)?|env_int|_required)\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))


def test_every_output_feeding_a_setting_names_one_the_app_reads(template: dict[str, Any]) -> None:
    read = _names_read_by_settings()
    fed = {name: key for key in template["Outputs"] if (name := render_env.setting_name(key))}
    assert set(fed) <= read, f"outputs for settings nobody reads: {sorted(set(fed) - read)}"
    for name, key in fed.items():
        assert template["Outputs"][key]["Description"].startswith(name), key


# Without RunTheApp the operator brings the database (a URL or its parts) and the secrets.
OPERATOR_ONLY = {
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_HOST",
    "INTAKE_WEBHOOK_SIGNING_KEY",
    "INTAKE_COGNITO_CLIENT_SECRET",
}


def test_the_outputs_cover_every_required_production_setting_the_stack_can_provide(template: dict[str, Any]) -> None:
    production = (ROOT / "config" / "settings" / "production.py").read_text(encoding="utf-8")
    required = set(re.findall(r"""(?:_required|env\.\w+)\(\s*["']([A-Z][A-Z0-9_]+)["']""", production))
    # Cognito sign-in (production refuses to start without it, or an explicit opt-out) needs these.
    required |= {
        "INTAKE_COGNITO_USER_POOL_ID",
        "INTAKE_COGNITO_REGION",
        "INTAKE_COGNITO_CLIENT_ID",
        "INTAKE_COGNITO_DOMAIN",
    }
    required -= OPERATOR_ONLY | {
        "INTAKE_ALLOW_PASSWORD_SIGN_IN",
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SECURE_HSTS_SECONDS",
        "DJANGO_EMAIL_BACKEND",
        "DJANGO_LOG_FORMAT",
        "DJANGO_SECURE_HSTS_PRELOAD",
    }
    assert "INTAKE_S3_BUCKET" in required, "the production settings' required names were not found"
    fed = {render_env.setting_name(key) for key in template["Outputs"]}
    assert required <= fed, f"required in production but not an output: {sorted(required - fed)}"
    assert {
        "INTAKE_S3_EVENTS_QUEUE_URL",
        "INTAKE_S3_EVENTS_DLQ_URL",
        "INTAKE_MACHINE_CLIENT_IDS",
        "DJANGO_DEFAULT_FROM_EMAIL",
        "INTAKE_MULTIPART_ABORT_AFTER_DAYS",
    } <= fed


def _describe_stacks(template: dict[str, Any]) -> dict[str, Any]:
    outputs = [
        {"OutputKey": key, "OutputValue": str(resolve(output["Value"], template)), "Description": output["Description"]}
        for key, output in template["Outputs"].items()
        if "Condition" not in output
    ]
    return {"Stacks": [{"StackName": "intake-acme", "StackStatus": "CREATE_COMPLETE", "Outputs": outputs}]}


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_", "CELERY_"))
    }


def _render(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "render_env.py"), *args],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _read_env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    return dict(pairs)


def _load_production(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.INTAKE_S3_BUCKET, s.INTAKE_COGNITO_USER_POOL_ID, s.DEFAULT_FROM_EMAIL, s.INTAKE_MACHINE_CLIENT_IDS[0])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**_clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_render_env_writes_a_file_production_settings_load_once_the_secret_is_added(
    template: dict[str, Any], tmp_path: Path
) -> None:
    stack_json = tmp_path / "stack.json"
    stack_json.write_text(json.dumps(_describe_stacks(template)), encoding="utf-8")
    env_file = tmp_path / "intake.env"
    result = _render(
        [
            "--outputs-json",
            str(stack_json),
            "--out",
            str(env_file),
            "--database-url",
            "postgres://intake@db.example.test:5432/intake",
            "--redis-url",
            "redis://cache.example.test:6379/0",
        ]
    )
    assert result.returncode == 0, result.stderr
    assert "INTAKE_COGNITO_CLIENT_SECRET" in result.stdout
    assert "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE" in result.stdout  # the one secret CloudFront needs
    assert "aws cognito-idp describe-user-pool-client" in result.stdout
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"

    env = _read_env_file(env_file)
    assert env["INTAKE_S3_BUCKET"] == RESOURCE_VALUES["UploadsBucket"]
    assert env["INTAKE_CORS_ALLOWED_ORIGINS"] == env["INTAKE_PUBLIC_BASE_URL"] == f"https://{SITE}"
    assert env["DJANGO_ALLOWED_HOSTS"] == SITE
    assert env["INTAKE_COGNITO_DOMAIN"] == "acme-intake.auth.eu-west-1.amazoncognito.com"
    assert len(env["DJANGO_SECRET_KEY"]) >= 50
    assert len(env["INTAKE_WEBHOOK_SIGNING_KEY"]) >= 32
    assert env["INTAKE_S3_EVENTS_QUEUE_ARN"].startswith("arn:aws:sqs:")  # setup_bucket keeps the stack's rule

    assert env["INTAKE_CLOUDFRONT_DOMAIN"] == RESOURCE_VALUES["DownloadsDistribution.DomainName"]
    assert env["INTAKE_CLOUDFRONT_KEY_ID"] == RESOURCE_VALUES["DownloadsKeyA"]
    assert env["INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE"] == ""

    key_file = tmp_path / "cloudfront.pem"
    key_file.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    missing_key = _load_production({**env, "INTAKE_COGNITO_CLIENT_SECRET": "s" * 51})
    assert missing_key.returncode != 0
    assert "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE" in missing_key.stderr
    env["INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE"] = str(key_file)

    missing_secret = _load_production(env)
    assert missing_secret.returncode != 0
    assert "INTAKE_COGNITO_CLIENT_SECRET" in missing_secret.stderr

    loaded = _load_production({**env, "INTAKE_COGNITO_CLIENT_SECRET": "s" * 51})
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == [
        RESOURCE_VALUES["UploadsBucket"],
        RESOURCE_VALUES["UserPool"],
        PARAMS["MailFromAddress"],
        RESOURCE_VALUES["MachineClient"],
    ]


def test_render_env_refuses_to_overwrite_without_force(template: dict[str, Any], tmp_path: Path) -> None:
    stack_json = tmp_path / "stack.json"
    stack_json.write_text(json.dumps(_describe_stacks(template)), encoding="utf-8")
    env_file = tmp_path / "intake.env"
    env_file.write_text("KEEP=me\n", encoding="utf-8")
    refused = _render(["--outputs-json", str(stack_json), "--out", str(env_file)])
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert env_file.read_text(encoding="utf-8") == "KEEP=me\n"

    forced = _render(["--outputs-json", str(stack_json), "--out", str(env_file), "--force"])
    assert forced.returncode == 0, forced.stderr
    assert "DATABASE_URL" in forced.stdout
    assert "REDIS_URL" in forced.stdout
    assert _read_env_file(env_file)["DATABASE_URL"] == ""


def test_render_env_refuses_a_stack_that_is_not_complete_or_not_intakes(template: dict[str, Any]) -> None:
    document = _describe_stacks(template)
    document["Stacks"][0]["StackStatus"] = "ROLLBACK_COMPLETE"
    with pytest.raises(render_env.RenderError, match="ROLLBACK_COMPLETE"):
        render_env.outputs_from_describe_stacks(document)
    with pytest.raises(render_env.RenderError, match="INTAKE_S3_BUCKET"):
        render_env.render({"Other": "x"}, environ={}, database_url=None, redis_url=None)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("IntakeS3EventsDlqUrl", "INTAKE_S3_EVENTS_DLQ_URL"),
        ("DjangoAllowedHosts", "DJANGO_ALLOWED_HOSTS"),
        ("AppPolicyArn", None),
        ("IntakeCognitoUserPoolId", "INTAKE_COGNITO_USER_POOL_ID"),
    ],
)
def test_output_keys_map_to_setting_names(key: str, name: str | None) -> None:
    assert render_env.setting_name(key) == name


# --- downloads through CloudFront ---------------------------------------------------------


def test_the_distribution_serves_only_signed_https_requests_through_origin_access_control(
    template: dict[str, Any],
) -> None:
    config = resolve(template["Resources"]["DownloadsDistribution"]["Properties"]["DistributionConfig"], template)
    (origin,) = config["Origins"]
    assert origin["DomainName"] == RESOURCE_VALUES["UploadsBucket.RegionalDomainName"]
    assert origin["OriginAccessControlId"] == RESOURCE_VALUES["DownloadsOriginAccess.Id"]
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy identity beside OAC
    oac = template["Resources"]["DownloadsOriginAccess"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )

    behaviour = config["DefaultCacheBehavior"]
    assert "CacheBehaviors" not in config  # no other path escapes the key group
    assert behaviour["TargetOriginId"] == origin["Id"]
    assert behaviour["TrustedKeyGroups"] == [RESOURCE_VALUES["DownloadsKeyGroup"]]
    assert "TrustedSigners" not in behaviour
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS"}
    assert behaviour["CachePolicyId"] == RESOURCE_VALUES["DownloadsCachePolicy"]
    assert behaviour["OriginRequestPolicyId"] == RESOURCE_VALUES["DownloadsOriginRequestPolicy"]
    assert behaviour["ResponseHeadersPolicyId"] == RESOURCE_VALUES["DownloadsResponseHeaders"]
    assert config["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    assert "Aliases" not in config


def test_the_key_group_holds_the_signing_key_and_the_outputs_name_it(template: dict[str, Any]) -> None:
    group = resolve(template["Resources"]["DownloadsKeyGroup"]["Properties"]["KeyGroupConfig"], template)
    assert group["Items"] == [RESOURCE_VALUES["DownloadsKeyA"]]
    key = resolve(template["Resources"]["DownloadsKeyA"]["Properties"]["PublicKeyConfig"], template)
    assert key["EncodedKey"] == PARAMS["DownloadsPublicKeyA"]
    assert key["Name"].endswith(PARAMS["DownloadsKeyLabelA"])
    outputs = template["Outputs"]
    assert (
        resolve(outputs["IntakeCloudfrontDomain"]["Value"], template)
        == RESOURCE_VALUES["DownloadsDistribution.DomainName"]
    )
    assert resolve(outputs["IntakeCloudfrontKeyId"]["Value"], template) == RESOURCE_VALUES["DownloadsKeyA"]

    # Rotating: both keys trusted, the app told to sign with B.
    rotating = {**PARAMS, "DownloadsPublicKeyB": PARAMS["DownloadsPublicKeyA"], "DownloadsSigningKey": "B"}
    group = resolve(template["Resources"]["DownloadsKeyGroup"]["Properties"]["KeyGroupConfig"], template, rotating)
    assert group["Items"] == [RESOURCE_VALUES["DownloadsKeyA"], RESOURCE_VALUES["DownloadsKeyB"]]
    assert resolve(outputs["IntakeCloudfrontKeyId"]["Value"], template, rotating) == RESOURCE_VALUES["DownloadsKeyB"]
    # Old key removed: only B left.
    rotated = {**rotating, "DownloadsPublicKeyA": ""}
    group = resolve(template["Resources"]["DownloadsKeyGroup"]["Properties"]["KeyGroupConfig"], template, rotated)
    assert group["Items"] == [RESOURCE_VALUES["DownloadsKeyB"]]
    assert not condition_holds(template["Resources"]["DownloadsKeyA"]["Condition"], template, rotated)


def test_a_custom_downloads_domain_gets_its_alias_certificate_and_output(template: dict[str, Any]) -> None:
    custom = {
        **PARAMS,
        "DownloadsDomain": "downloads.example.test",
        "DownloadsCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-444455556666",
    }
    config = resolve(
        template["Resources"]["DownloadsDistribution"]["Properties"]["DistributionConfig"], template, custom
    )
    assert config["Aliases"] == ["downloads.example.test"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": custom["DownloadsCertificateArn"],
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    outputs = template["Outputs"]
    assert resolve(outputs["IntakeCloudfrontDomain"]["Value"], template, custom) == "downloads.example.test"
    assert condition_holds(outputs["DownloadsDnsTarget"]["Condition"], template, custom)
    assert not condition_holds(outputs["DownloadsDnsTarget"]["Condition"], template)


def test_the_file_name_parameter_is_in_the_cache_key_and_forwarded_to_s3(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    cache = resources["DownloadsCachePolicy"]["Properties"]["CachePolicyConfig"][
        "ParametersInCacheKeyAndForwardedToOrigin"
    ]
    forwarded = resources["DownloadsOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    for config in (cache, forwarded):
        assert config["QueryStringsConfig"] == {
            "QueryStringBehavior": "whitelist",
            "QueryStrings": [cloudfront.DISPOSITION_PARAMETER],
        }
        assert config["CookiesConfig"] == {"CookieBehavior": "none"}
        assert config["HeadersConfig"] == {"HeaderBehavior": "none"}


def test_previews_may_be_fetched_by_the_site_cross_origin(template: dict[str, Any]) -> None:
    policy = resolve(
        template["Resources"]["DownloadsResponseHeaders"]["Properties"]["ResponseHeadersPolicyConfig"], template
    )
    cors = policy["CorsConfig"]
    assert cors["AccessControlAllowOrigins"] == {"Items": [f"https://{SITE}"]}
    assert cors["AccessControlAllowMethods"] == {"Items": ["GET", "HEAD"]}
    assert set(cors["AccessControlExposeHeaders"]["Items"]) == {"ETag", "Content-Length", "Content-Disposition"}
    assert cors["AccessControlAllowCredentials"] is False
    assert policy["SecurityHeadersConfig"]["ContentTypeOptions"] == {"Override": True}


def test_only_the_distribution_may_read_the_bucket_and_only_uploads_and_derived(template: dict[str, Any]) -> None:
    policy = resolve(template["Resources"]["UploadsBucketPolicy"]["Properties"], template)
    assert policy["Bucket"] == RESOURCE_VALUES["UploadsBucket"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    bucket_arn = RESOURCE_VALUES["UploadsBucket.Arn"]
    assert sorted(statement["Resource"]) == [
        f"{bucket_arn}/{DERIVED_PREFIX}/*",
        f"{bucket_arn}/{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/*",
    ]
    assert statement["Condition"] == {
        "StringEquals": {
            "AWS:SourceArn": f"arn:aws:cloudfront::123456789012:distribution/{RESOURCE_VALUES['DownloadsDistribution']}"
        }
    }


def test_render_env_asks_for_the_cloudfront_private_key_or_takes_its_path(template: dict[str, Any]) -> None:
    outputs = {o["OutputKey"]: o["OutputValue"] for o in _describe_stacks(template)["Stacks"][0]["Outputs"]}
    text, todo = render_env.render(outputs, environ={}, database_url=None, redis_url=None)
    assert f"INTAKE_CLOUDFRONT_DOMAIN={RESOURCE_VALUES['DownloadsDistribution.DomainName']}" in text.splitlines()
    assert f"INTAKE_CLOUDFRONT_KEY_ID={RESOURCE_VALUES['DownloadsKeyA']}" in text.splitlines()
    assert "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE=" in text.splitlines()
    assert any("INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE" in item and "docs/deploy.md" in item for item in todo)

    text, todo = render_env.render(
        outputs,
        environ={"INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE": "/etc/intake/cloudfront.pem"},
        database_url=None,
        redis_url=None,
    )
    assert "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE=/etc/intake/cloudfront.pem" in text.splitlines()
    assert not any("CLOUDFRONT" in item for item in todo)


def test_object_lock_yes_makes_a_locked_versioned_bucket_with_no_default_retention(template: dict[str, Any]) -> None:
    assert "ObjectLockEnabled" not in resolve(template["Resources"]["UploadsBucket"]["Properties"], template)
    locked = resolve(template["Resources"]["UploadsBucket"]["Properties"], template, {**PARAMS, "ObjectLock": "yes"})
    assert locked["ObjectLockEnabled"] is True
    assert locked["VersioningConfiguration"] == {"Status": "Enabled"}  # Object Lock needs it
    assert "ObjectLockConfiguration" not in locked  # holds are per object: no default retention
    rules = {rule["Id"]: rule for rule in locked["LifecycleConfiguration"]["Rules"]}
    assert rules["intake-expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert template["Outputs"]["IntakeS3ObjectLock"]["Description"].startswith("INTAKE_S3_OBJECT_LOCK")


def test_the_app_may_place_and_lift_legal_holds_and_delete_versions(template: dict[str, Any]) -> None:
    statements = template["Resources"]["AppPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    holds = by_sid["LegalHoldsAndVersions"]
    assert set(holds["Action"]) == {"s3:PutObjectLegalHold", "s3:GetObjectLegalHold", "s3:DeleteObjectVersion"}
    assert resolve(holds["Resource"], template).endswith("/uploads/*")
    assert by_sid["ListVersions"]["Action"] == "s3:ListBucketVersions"


def test_malware_protection_scans_the_uploads_prefix_and_sends_results_to_the_events_queue(
    template: dict[str, Any],
) -> None:
    """GuardDuty Malware Protection for S3 (MalwareProtection=yes, the default): a plan
    for uploads/ only, its result events routed to the events queue, which admits them
    from this rule only; the app is told to wait for those results."""
    resources = template["Resources"]
    params = {**PARAMS, "MalwareProtection": "yes", "AWS::StackName": "intake-acme"}
    assert template["Parameters"]["MalwareProtection"]["Default"] == "yes"
    for name in ("MalwareProtectionRole", "MalwareProtectionPlan", "MalwareScanResultsRule"):
        assert resources[name]["Condition"] == "ProtectUploads"
    assert condition_holds("ProtectUploads", template, params)
    plan = resolve(resources["MalwareProtectionPlan"]["Properties"], template, params)
    assert plan["ProtectedResource"]["S3Bucket"] == {
        "BucketName": RESOURCE_VALUES["UploadsBucket"],
        "ObjectPrefixes": [f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/"],
    }
    rule = resolve(resources["MalwareScanResultsRule"]["Properties"], template, params)
    assert rule["EventPattern"]["source"] == ["aws.guardduty"]
    assert rule["EventPattern"]["detail-type"] == ["GuardDuty Malware Protection Object Scan Result"]
    assert rule["Targets"] == [{"Id": "events-queue", "Arn": RESOURCE_VALUES["EventsQueue.Arn"]}]
    statements = resolve(resources["EventsQueuePolicy"]["Properties"]["PolicyDocument"], template, params)["Statement"]
    (from_rule,) = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert from_rule["Condition"]["ArnEquals"]["aws:SourceArn"] == (
        f"arn:aws:events:eu-west-1:123456789012:rule/{rule['Name']}"
    )
    # Without the plan, the rule's statement is gone and the app serves files as "not scanned".
    off = {**params, "MalwareProtection": "no"}
    assert len(resolve(resources["EventsQueuePolicy"]["Properties"]["PolicyDocument"], template, off)["Statement"]) == 1
    app_policy = resolve(resources["AppPolicy"]["Properties"]["PolicyDocument"], template, params)["Statement"]
    (quarantine,) = [s for s in app_policy if s["Sid"] == "QuarantineInfectedFiles"]
    assert quarantine["Resource"].endswith(f"/{settings.INTAKE_SCAN_QUARANTINE_PREFIX}/*")
