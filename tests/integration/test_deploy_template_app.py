"""deploy/intake.yaml with RunTheApp=yes, the part moto's CloudFormation can create:
the network, the load balancer, ECS (cluster, task definitions, services), RDS, IAM
roles, the KMS key, the log group, deployed to the emulator and read back through
each service's own API.

moto's CloudFormation cannot create Secrets Manager secrets, ElastiCache, ACM
certificates, Application Auto Scaling, CloudWatch alarms, security-group egress
rules, Cognito, SES or CloudFront (it skips those types; see
tests/integration/test_deploy_template.py for the last three). So those resources
are left out (and the https listener, whose certificate moto looks up), and where a kept resource names one, the name is replaced by a
placeholder of the right shape ("left-out:<Name>"); tests/unit/test_template_app.py
checks them statically. moto also ignores, of the kept ones, a subnet's
MapPublicIpOnLaunch (it makes the first subnet of each zone a default one), a
service's NetworkConfiguration and LoadBalancers, a role's ManagedPolicyArns and a
database's DeletionProtection, so those are not asserted here: that would test moto.
Nothing here is a deployment to AWS; it proves the kept resources are well-formed
enough for moto's models and wired to each other.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import boto3
import pytest

from deploy.template import load

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
MOTO_CAN_CREATE = {
    "AWS::EC2::VPC",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::EIP",
    "AWS::EC2::NatGateway",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ECS::Cluster",
    "AWS::ECS::TaskDefinition",
    "AWS::ECS::Service",
    "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::DBInstance",
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
}
PARAMETERS = {
    "SiteDomain": "files.example.test",
    "BusinessName": "Acme Accounting",
    "AdminEmail": "boss@example.test",
    "MailFromAddress": "intake@example.test",
    "AuthDomainPrefix": "acme-intake",
    "DownloadsPublicKeyA": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n",
    "RunTheApp": "yes",
    "Size": "small",
    "ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/intake:2026-12-03",
    "DownloadsPrivateKeySecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:intake/cloudfront-AbCdEf",
}


# Attributes moto's models do not have (RDS's managed secret), replaced like left-out resources.
MOTO_LACKS = {"Database.MasterUserSecret.SecretArn"}


def _placeholders(value: Any, dropped: set[str]) -> Any:
    """`value` with every reference to a left-out resource (or attribute) replaced by a placeholder."""
    if isinstance(value, list):
        return [_placeholders(v, dropped) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in dropped:
        return f"left-out:{value['Ref']}"
    if set(value) == {"Fn::GetAtt"} and (
        value["Fn::GetAtt"][0] in dropped or ".".join(value["Fn::GetAtt"]) in MOTO_LACKS
    ):
        return f"left-out:{'.'.join(value['Fn::GetAtt'])}"
    if set(value) == {"Fn::Sub"}:
        text, names = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"left-out:{name}" if name.split(".")[0] in dropped or name in MOTO_LACKS else match.group(0)

        text = re.sub(r"\$\{([\w:.]+)\}", replace, text)
        names = {k: _placeholders(v, dropped) for k, v in names.items()}
        return {"Fn::Sub": [text, names] if names else text}
    return {k: _placeholders(v, dropped) for k, v in value.items()}


def moto_part_of_the_template() -> tuple[dict[str, Any], set[str]]:
    template = load()
    resources = template["Resources"]
    # The https listener goes too: moto checks its certificate exists in its ACM.
    dropped = {name for name, r in resources.items() if r["Type"] not in MOTO_CAN_CREATE} | {"HttpsListener"}
    kept = {}
    for name, resource in resources.items():
        if name in dropped:
            continue
        resource = _placeholders(resource, dropped)
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in dropped]
            if depends:
                resource["DependsOn"] = depends
            else:
                del resource["DependsOn"]
        kept[name] = resource
    template["Resources"] = kept
    template["Outputs"] = {}
    template.pop("Rules", None)  # they guard parameters of left-out resources too
    return template, set(kept)


@pytest.fixture(scope="module")
def stack(s3_emulator) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    template, kept = moto_part_of_the_template()
    assert {"Network", "LoadBalancer", "Cluster", "WebService", "BeatService", "MigrateTask", "Database"} <= kept
    cloudformation = boto3.client("cloudformation", endpoint_url=s3_emulator.endpoint_url, region_name=REGION)
    name = f"intake-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    (described,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }
    return {"name": name, "endpoint": s3_emulator.endpoint_url, "ids": physical}


def _client(service: str, stack: dict[str, Any]) -> Any:
    return boto3.client(service, endpoint_url=stack["endpoint"], region_name=REGION)  # type: ignore[call-overload]


def test_the_network_has_two_zones_public_and_private_with_one_nat_gateway_when_small(stack: dict[str, Any]) -> None:
    ids = stack["ids"]
    ec2 = _client("ec2", stack)
    subnets = {
        s["SubnetId"]: s
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [ids["Network"]]}])["Subnets"]
    }
    assert len(subnets) == 4
    assert subnets[ids["PrivateSubnetA"]]["AvailabilityZone"] != subnets[ids["PrivateSubnetB"]]["AvailabilityZone"]
    assert {subnets[ids[name]]["CidrBlock"] for name in ("PrivateSubnetA", "PrivateSubnetB")} == {
        "10.40.10.0/24",
        "10.40.11.0/24",
    }
    gateways = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [ids["Network"]]}])["NatGateways"]
    assert [g["SubnetId"] for g in gateways] == [ids["PublicSubnetA"]]
    for routes in ("PrivateRoutesA", "PrivateRoutesB"):
        (table,) = ec2.describe_route_tables(RouteTableIds=[ids[routes]])["RouteTables"]
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert [r.get("NatGatewayId") for r in default] == [gateways[0]["NatGatewayId"]]


def test_the_load_balancer_faces_the_internet_and_checks_readiness_on_8000(stack: dict[str, Any]) -> None:
    ids = stack["ids"]
    elb = _client("elbv2", stack)
    (balancer,) = elb.describe_load_balancers(LoadBalancerArns=[ids["LoadBalancer"]])["LoadBalancers"]
    assert balancer["Scheme"] == "internet-facing"
    assert {z["SubnetId"] for z in balancer["AvailabilityZones"]} == {ids["PublicSubnetA"], ids["PublicSubnetB"]}
    (group,) = elb.describe_target_groups(TargetGroupArns=[ids["WebTargets"]])["TargetGroups"]
    assert (group["Port"], group["TargetType"], group["HealthCheckPath"]) == (8000, "ip", "/healthz/ready")
    listeners = elb.describe_listeners(LoadBalancerArn=ids["LoadBalancer"])["Listeners"]
    (http,) = [listener for listener in listeners if listener["Port"] == 80]
    (action,) = http["DefaultActions"]
    assert action["Type"] == "redirect"
    assert (action["RedirectConfig"]["Protocol"], action["RedirectConfig"]["StatusCode"]) == ("HTTPS", "HTTP_301")


def test_the_four_services_and_the_migrate_task_run_their_commands(
    stack: dict[str, Any],
) -> None:
    ids = stack["ids"]
    ecs = _client("ecs", stack)
    cluster = ids["Cluster"]
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    services = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=arns)["services"]}
    assert set(services) == {"web", "worker", "consumer", "beat"}
    assert services["beat"]["desiredCount"] == 1
    for name, service in services.items():
        (definition,) = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"][
            "containerDefinitions"
        ]
        assert definition["command"] == [name]
        assert definition["image"] == PARAMETERS["ImageUri"]
        assert definition["readonlyRootFilesystem"] is True
        assert definition["logConfiguration"]["options"]["awslogs-stream-prefix"] == name
    (web,) = ecs.describe_task_definition(taskDefinition=services["web"]["taskDefinition"])["taskDefinition"][
        "containerDefinitions"
    ]
    assert web["portMappings"][0]["containerPort"] == 8000
    migrate = ecs.describe_task_definition(taskDefinition=ids["MigrateTask"])["taskDefinition"]
    assert migrate["containerDefinitions"][0]["command"] == ["migrate"]


def test_the_database_is_encrypted_with_the_stack_key_private_and_backed_up(stack: dict[str, Any]) -> None:
    rds = _client("rds", stack)
    (database,) = rds.describe_db_instances(DBInstanceIdentifier=stack["ids"]["Database"])["DBInstances"]
    assert database["Engine"] == "postgres"
    assert database["StorageEncrypted"] is True
    assert database["KmsKeyId"] == stack["ids"]["StackKey"]
    assert database["PubliclyAccessible"] is False
    assert database["MultiAZ"] is False  # Size=small
    assert database["BackupRetentionPeriod"] == 7
    assert database["DBInstanceClass"] == "db.t4g.micro"


def test_the_task_role_adds_only_the_metric_permission(stack: dict[str, Any]) -> None:
    iam = _client("iam", stack)
    role = stack["ids"]["TaskRole"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["publish-backlog-metric"]
    document = iam.get_role_policy(RoleName=role, PolicyName="publish-backlog-metric")["PolicyDocument"]
    # moto keeps a CloudFormation role's inline document as Python's text of the dict
    # (not JSON), so it is read as text; the unit tests check the parsed statement.
    text = document if isinstance(document, str) else json.dumps(document)
    assert "cloudwatch:PutMetricData" in text
    assert "cloudwatch:namespace" in text
    assert "Intake" in text


def test_the_key_rotates_and_the_logs_are_kept_a_year(stack: dict[str, Any]) -> None:
    kms = _client("kms", stack)
    assert kms.get_key_rotation_status(KeyId=stack["ids"]["StackKey"])["KeyRotationEnabled"] is True
    logs = _client("logs", stack)
    (group,) = logs.describe_log_groups(logGroupNamePrefix=f"/intake/{stack['name']}")["logGroups"]
    assert group["retentionInDays"] == 365
