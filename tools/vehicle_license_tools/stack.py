"""Deploy template.yaml into an emulated AWS: translated offline with aws-sam-translator, created
by moto's CloudFormation, and the parts moto's CloudFormation ignores filled in explicitly.

Moto's CloudFormation has no model for some resource types of the template (Secrets Manager
secrets, bucket and queue policies, CloudWatch alarms, Lambda event-invoke configs, the review
desk's Cognito user pool, group and app client) and drops some properties (the bucket's
notification configuration, the table's TTL). It creates no placeholder for such a resource: a
`Ref` to it resolves to nothing, so moto leaves the variables and outputs that name it out, and
a `Fn::GetAtt` of it fails the stack. `fill_gaps` creates each of them from the translated
template itself, then gives the review function the environment the template declares and the
stack its missing outputs, so the emulated stack matches the template;
`tests/integration/test_template_agreement.py` checks that it does.

The functions' event source mappings (the intake queue's, the vehicle events queue's) are
created by moto but disabled (`_take_over_event_source`): `delivery.QueueConsumer` plays Lambda
for them. The vehicle events rule and its queue target are moto's own: events put on the bus
reach the queue as in AWS.

The review desk's HTTP API (AWS::ApiGatewayV2::Api and its stage, and the function's invoke
permissions for it) is not emulated: the local desk server plays API Gateway's part, so the
outputs naming it (ReviewApiId, ReviewDeskUrl) are absent from a local stack.

One part is left out on purpose: the bucket policy that denies requests without TLS. The emulated
AWS is served over plain HTTP on 127.0.0.1 and moto evaluates bucket policies, so applying it
would deny every request; the template test checks the statement in the template instead.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

import vehicle_license_intake
from vehicle_license_tools.resources import TEMPLATE as DEFAULT_TEMPLATE

# The function's code: what `sam build` puts into the artifact from CodeUri (src/).
FUNCTION_PACKAGE = Path(vehicle_license_intake.__file__).resolve().parent
# The other packages of CodeUri (the review desk's function), zipped when importable.
OTHER_PACKAGES = ("vehicle_license_review", "vehicle_license_records")
FUNCTION_ID = "IntakeFunction"
REVIEW_FUNCTION_ID = "ReviewFunction"
RECORDS_FUNCTION_ID = "VehicleRecordsFunction"
ARTIFACT_BUCKET = "vli-local-artifacts"

# What aws-sam-translator would look up in IAM: the AWS managed policies the template uses.
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
    "AWSLambdaRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
}


class OfflinePolicyLoader:
    """Managed-policy names to ARNs without calling IAM (the translator's only AWS call)."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


def load_sam_template(path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse(path.read_text(encoding="utf-8")))


def translate(
    sam_template: Mapping[str, Any],
    parameters: Mapping[str, str] | None = None,
    code_uri: str | Mapping[str, str] = "s3://vli-local-artifacts/function.zip",
) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would create, with the function's code at
    `code_uri` as `sam package` would upload it (the region only shapes ARNs)."""
    from samtranslator.translator.transform import transform

    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

    packaged = copy.deepcopy(dict(sam_template))
    for resource in packaged["Resources"].values():  # every function is built from CodeUri src/
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri
    return dict(transform(packaged, dict(parameters or {}), OfflinePolicyLoader()))


def package_source(session: boto3.session.Session) -> dict[str, str]:
    """Zip the function's code (what `sam build` would) into an artifact bucket; its location."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in (FUNCTION_PACKAGE, *_other_packages()):
            for path in sorted(package.rglob("*.py")):
                archive.write(path, str(path.relative_to(package.parent)))
    s3 = session.client("s3")
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key="function.zip", Body=buffer.getvalue())
    return {"Bucket": ARTIFACT_BUCKET, "Key": "function.zip"}


def _other_packages() -> list[Path]:
    found = (importlib.util.find_spec(name) for name in OTHER_PACKAGES)
    return [Path(spec.origin).resolve().parent for spec in found if spec is not None and spec.origin]


@dataclass
class LocalStack:
    """The deployed stack: its outputs, resources and the function's resolved environment."""

    name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    function_environment: dict[str, str]
    template: dict[str, Any]
    filled: list[str] = field(default_factory=list)
    # The intake queue's event source mapping (IntakePath=queue), taken over from moto.
    event_source: dict[str, Any] | None = None
    # The review function's environment as the template declares it, the Cognito user pool and
    # app client it names really created (moto leaves those variables out).
    review_function_environment: dict[str, str] = field(default_factory=dict)
    # The vehicle records function (SPEC §12): its environment as the template declares it, and
    # its queue's event source mapping, taken over from moto like the intake queue's.
    records_function_environment: dict[str, str] = field(default_factory=dict)
    records_event_source: dict[str, Any] | None = None

    @property
    def bucket(self) -> str:
        return self.outputs["UploadBucketName"]

    @property
    def upload_prefix(self) -> str:
        return self.outputs["UploadPrefix"]

    @property
    def table(self) -> str:
        return self.outputs["ResultsTableName"]

    @property
    def dead_letter_queue_url(self) -> str:
        return self.outputs["DeadLetterQueueUrl"]

    @property
    def failure_queue_url(self) -> str:
        return self.outputs["FailureQueueUrl"]

    @property
    def secret_id(self) -> str:
        return self.outputs["ApiKeySecretName"]

    @property
    def function_name(self) -> str:
        return self.outputs["FunctionName"]

    @property
    def intake_queue_url(self) -> str | None:
        return self.outputs.get("IntakeQueueUrl") if self.outputs.get("IntakePath") == "queue" else None

    @property
    def parking_queue_url(self) -> str:
        return self.outputs["ParkingQueueUrl"]

    @property
    def control_table(self) -> str:
        return self.outputs["ControlTableName"]

    @property
    def event_bus(self) -> str:
        return self.outputs["EventBusName"]

    @property
    def trail_table(self) -> str:
        return self.outputs["ReviewTrailTableName"]

    @property
    def review_function_name(self) -> str:
        return self.outputs["ReviewFunctionName"]

    @property
    def user_pool_id(self) -> str:
        return self.outputs["ReviewerPoolId"]

    @property
    def desk_client_id(self) -> str:
        return self.outputs["ReviewDeskClientId"]

    @property
    def vehicle_table(self) -> str:
        return self.outputs["VehicleTableName"]

    @property
    def vehicle_events_queue_url(self) -> str:
        return self.outputs["VehicleEventsQueueUrl"]

    @property
    def vehicle_events_dead_letter_queue_url(self) -> str:
        return self.outputs["VehicleEventsDeadLetterQueueUrl"]

    @property
    def records_function_name(self) -> str:
        return self.outputs["VehicleRecordsFunctionName"]


def deploy(
    session: boto3.session.Session,
    *,
    stack_name: str = "vli-local",
    parameters: Mapping[str, str] | None = None,
    template_path: Path = DEFAULT_TEMPLATE,
) -> LocalStack:
    template = translate(load_sam_template(template_path), parameters, code_uri=package_source(session))
    cfn = session.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    description = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if description["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name} is {description['StackStatus']}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    physical_ids = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    function = session.client("lambda").get_function_configuration(FunctionName=outputs["FunctionName"])
    # Lambda hands every variable to the function as a string; moto keeps Number parameters as ints.
    environment = {k: str(v) for k, v in function.get("Environment", {}).get("Variables", {}).items()}
    stack = LocalStack(stack_name, outputs, physical_ids, environment, template)
    stack.event_source = _take_over_event_source(session, outputs["FunctionName"])
    resolve = _resolver(stack, session, parameters or {})
    stack.filled = fill_gaps(session, stack, resolve)
    _complete_outputs(stack, resolve)
    stack.review_function_environment = _complete_environment(session, stack, REVIEW_FUNCTION_ID, resolve)
    if stack.physical_ids.get(RECORDS_FUNCTION_ID):
        stack.records_event_source = _take_over_event_source(session, stack.physical_ids[RECORDS_FUNCTION_ID])
        stack.records_function_environment = _complete_environment(
            session, stack, RECORDS_FUNCTION_ID, resolve
        )
    return stack


def _complete_outputs(stack: LocalStack, resolve: Any) -> None:
    """The outputs moto left out or left unresolved (they name a resource it does not model),
    resolved against what `fill_gaps` created; those naming a resource not emulated at all (the
    HTTP API) stay out."""
    for key, output in stack.template.get("Outputs", {}).items():
        if key in stack.outputs and "${" not in stack.outputs[key]:
            continue
        stack.outputs.pop(key, None)
        try:
            stack.outputs[key] = str(resolve(output["Value"]))
        except KeyError:  # a resource that has no physical id here
            continue


def _complete_environment(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, resolve: Any
) -> dict[str, str]:
    """The function's environment as the template declares it, set on the emulated function
    too: moto drops the variables that name a resource it does not model; they are resolved
    against what `fill_gaps` created."""
    resource = stack.template["Resources"].get(logical_id)
    if resource is None or not stack.physical_ids.get(logical_id):
        return {}
    client, name = session.client("lambda"), stack.physical_ids[logical_id]
    configured = client.get_function_configuration(FunctionName=name).get("Environment", {})
    # Lambda hands every variable to the function as a string; moto keeps Number parameters as ints.
    environment = {k: str(v) for k, v in configured.get("Variables", {}).items()}
    declared = resource["Properties"].get("Environment", {}).get("Variables", {})
    missing = {k: str(resolve(v)) for k, v in declared.items() if k not in environment}
    if missing:
        environment.update(missing)
        client.update_function_configuration(FunctionName=name, Environment={"Variables": environment})
    return {k: environment[k] for k in declared if k in environment}


def _take_over_event_source(session: boto3.session.Session, function_name: str) -> dict[str, Any] | None:
    """A queue's event source mapping (the intake queue's, the vehicle events queue's), as the
    template configured it, disabled in moto:
    moto would take every message off the queue to run the function in Docker (and deleting a
    mapping does not stop it). Whoever plays Lambda here (the local stack's poller, the tests)
    reads the queue with this configuration instead."""
    client = session.client("lambda")
    mappings = client.list_event_source_mappings(FunctionName=function_name).get("EventSourceMappings", [])
    for mapping in mappings:
        client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    if not mappings:
        return None
    mapping = mappings[0]
    return {
        "queue_arn": mapping["EventSourceArn"],
        "batch_size": int(mapping.get("BatchSize", 10)),
        "maximum_concurrency": int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 2)),
        "report_batch_item_failures": "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
    }


def deploy_with_upstream(
    session: boto3.session.Session,
    *,
    stack_name: str,
    upstream_url: str,
    api_key: str,
    parameters: Mapping[str, str] | None = None,
) -> LocalStack:
    """What every local run does first: deploy the template with the function pointed at a
    local upstream, and put that upstream's key into the stack's secret."""
    deployed = deploy(
        session, stack_name=stack_name, parameters={"OcrEndpointUrl": upstream_url, **(parameters or {})}
    )
    session.client("secretsmanager").put_secret_value(
        SecretId=deployed.secret_id, SecretString=json.dumps({"api_key": api_key})
    )
    return deployed


def use_function_environment(deployed: LocalStack, **overrides: str) -> None:
    """This process becomes the function: the template's environment (with overrides) is set,
    and the handler forgets any pipeline configured before."""
    from vehicle_license_intake import handler

    os.environ.update({**deployed.function_environment, **overrides})
    handler.reset()


def fill_gaps(session: boto3.session.Session, stack: LocalStack, resolve: Any) -> list[str]:
    """Create what moto's CloudFormation ignored, from the translated template. What was filled."""
    filled: list[str] = []
    resources: dict[str, Any] = stack.template["Resources"]
    conditions = _conditions(stack.template, resolve)
    # A resource the others name comes first (the user pool before its group and client).
    ordered = sorted(resources.items(), key=lambda item: _FILL_FIRST.get(item[1]["Type"], 1))
    for logical_id, resource in ordered:
        if "Condition" in resource and not conditions.get(resource["Condition"], True):
            continue
        kind, props = resource["Type"], resource.get("Properties", {})
        filler = _FILLERS.get(kind)
        if filler is not None and filler(session, stack, logical_id, resolve(props)):
            filled.append(f"{kind} {logical_id}")
    return filled


def _fill_secret(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    client = session.client("secretsmanager")
    try:
        client.describe_secret(SecretId=props["Name"])
        return False
    except client.exceptions.ResourceNotFoundException:
        pass
    client.create_secret(
        Name=props["Name"],
        Description=props.get("Description", ""),
        SecretString="placeholder-replace-with-put-secret-value",
    )
    stack.physical_ids[logical_id] = props["Name"]
    return True


def _fill_bucket(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    """Moto's CloudFormation keeps only a bucket's name and encryption: apply the rest."""
    s3, bucket = session.client("s3"), props["BucketName"]
    if props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    if props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if props.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
    if props.get("LifecycleConfiguration"):
        rules = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    notification = props.get("NotificationConfiguration", {})
    configuration = {
        api_name: [
            {
                target_key: entry[cfn_key],
                "Events": [entry["Event"]],
                "Filter": {"Key": {"FilterRules": _filter_rules(entry)}},
            }
            for entry in notification.get(cfn_name, [])
        ]
        for cfn_name, api_name, cfn_key, target_key in (
            ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
            ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        )
        if notification.get(cfn_name)
    }
    if configuration:
        # Moto, like S3, then sends its s3:TestEvent to a queue; S3 -> SQS it delivers itself.
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    return True


def _filter_rules(entry: Mapping[str, Any]) -> list[dict[str, str]]:
    rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
    return [{"Name": r["Name"], "Value": r["Value"]} for r in rules]


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return api


def _fill_queue_policy(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    sqs = session.client("sqs")
    for queue_url in props["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return True


def _fill_table(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    """Moto's CloudFormation ignores a table's TTL and point-in-time recovery."""
    dynamodb, table = session.client("dynamodb"), stack.physical_ids[logical_id]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])},
        )
    pitr = props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": bool(pitr)}
        )
    return bool(ttl or pitr)


def _fill_alarm(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    alarm = {k: v for k, v in props.items() if k != "AlarmActions" or v}
    alarm.setdefault("AlarmName", f"{stack.name}-{logical_id}")
    alarm["Threshold"] = float(alarm["Threshold"])
    session.client("cloudwatch").put_metric_alarm(**alarm)
    stack.physical_ids[logical_id] = alarm["AlarmName"]
    return True


def _fill_event_invoke_config(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    session.client("lambda").put_function_event_invoke_config(
        FunctionName=props["FunctionName"],
        Qualifier=props.get("Qualifier", "$LATEST"),
        MaximumRetryAttempts=int(props["MaximumRetryAttempts"]),
        MaximumEventAgeInSeconds=int(props["MaximumEventAgeInSeconds"]),
        DestinationConfig=props.get("DestinationConfig", {}),
    )
    return True


def _api_request(client: Any, operation: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation resource's properties as the API's request: the members the operation
    takes (the Cognito resources name them alike)."""
    members = client.meta.service_model.operation_model(operation).input_shape.members
    return {name: value for name, value in props.items() if name in members}


def _fill_user_pool(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    client = session.client("cognito-idp")
    request = _api_request(client, "CreateUserPool", {"PoolName": props["UserPoolName"], **props})
    pool = client.create_user_pool(**request)["UserPool"]
    stack.physical_ids[logical_id] = pool["Id"]  # Ref of a user pool: its id
    return True


def _fill_user_pool_group(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    client = session.client("cognito-idp")
    client.create_group(**_api_request(client, "CreateGroup", props))
    stack.physical_ids[logical_id] = props["GroupName"]  # Ref of a group: its name
    return True


def _fill_user_pool_client(
    session: boto3.session.Session, stack: LocalStack, logical_id: str, props: dict[str, Any]
) -> bool:
    client = session.client("cognito-idp")
    app = client.create_user_pool_client(**_api_request(client, "CreateUserPoolClient", props))
    stack.physical_ids[logical_id] = app["UserPoolClient"]["ClientId"]  # Ref of a client: its id
    return True


_FILLERS = {
    "AWS::SecretsManager::Secret": _fill_secret,
    "AWS::S3::Bucket": _fill_bucket,
    "AWS::SQS::QueuePolicy": _fill_queue_policy,
    "AWS::DynamoDB::Table": _fill_table,
    "AWS::CloudWatch::Alarm": _fill_alarm,
    "AWS::Lambda::EventInvokeConfig": _fill_event_invoke_config,
    "AWS::Cognito::UserPool": _fill_user_pool,
    "AWS::Cognito::UserPoolGroup": _fill_user_pool_group,
    "AWS::Cognito::UserPoolClient": _fill_user_pool_client,
}
_FILL_FIRST = {"AWS::Cognito::UserPool": 0}


def add_reviewer(
    session: boto3.session.Session,
    stack: LocalStack,
    username: str,
    password: str,
    *,
    group: str = "reviewers",
) -> None:
    """A reviewer as an administrator adds one (README, "The review desk"): a user of the stack's
    pool with a permanent password, in the group. A password the pool's policy refuses raises
    (InvalidPasswordException) and leaves no user behind."""
    client, pool = session.client("cognito-idp"), stack.user_pool_id
    client.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    try:
        client.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        client.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    except Exception:
        client.admin_delete_user(UserPoolId=pool, Username=username)
        raise


def _conditions(template: Mapping[str, Any], resolve: Any) -> dict[str, bool]:
    return {name: bool(resolve(expression)) for name, expression in template.get("Conditions", {}).items()}


def _resolver(stack: LocalStack, session: boto3.session.Session, parameters: Mapping[str, str]) -> Any:
    """Resolve the intrinsic functions the template uses, against the deployed stack."""
    template = stack.template
    values: dict[str, Any] = {
        name: parameters.get(name, spec.get("Default", ""))
        for name, spec in template.get("Parameters", {}).items()
    }
    account = session.client("sts").get_caller_identity()["Account"]
    pseudo = {
        "AWS::StackName": stack.name,
        "AWS::AccountId": account,
        "AWS::Region": session.region_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    sqs = session.client("sqs")

    def attribute(logical_id: str, name: str) -> Any:
        physical = stack.physical_ids[logical_id]
        kind = template["Resources"][logical_id]["Type"]
        if kind == "AWS::SQS::Queue":
            if name == "QueueName":
                return physical.rsplit("/", 1)[-1]
            return sqs.get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        if kind == "AWS::Lambda::Function" and name == "Arn":
            return session.client("lambda").get_function_configuration(FunctionName=physical)["FunctionArn"]
        if kind == "AWS::DynamoDB::Table" and name == "Arn":
            return session.client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"]
        if kind == "AWS::Events::EventBus" and name in ("Name", "Arn"):
            # moto records no physical id for a bus: its name is the template's
            bus_name = resolve(template["Resources"][logical_id]["Properties"]["Name"])
            return session.client("events").describe_event_bus(Name=bus_name)[name]
        if kind == "AWS::Events::Rule" and name == "Arn":
            bus = resolve(template["Resources"][logical_id]["Properties"].get("EventBusName", "default"))
            rule_name = physical.rsplit("|", 1)[-1].rsplit("/", 1)[-1]
            return session.client("events").describe_rule(Name=rule_name, EventBusName=bus)["Arn"]
        raise KeyError(f"Fn::GetAtt {logical_id}.{name} is not resolved offline")

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [r for r in (resolve(n) for n in node) if r is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                if argument == "AWS::NoValue":
                    return _NO_VALUE
                if argument in pseudo:
                    return pseudo[argument]
                return values[argument] if argument in values else stack.physical_ids[argument]
            if function == "Fn::GetAtt":
                logical_id, name = argument if isinstance(argument, list) else argument.split(".", 1)
                return attribute(logical_id, name)
            if function == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                return _substitute(
                    text,
                    lambda name: (
                        resolve({"Ref": name}) if "." not in name else attribute(*name.split(".", 1))
                    ),
                )
            if function == "Fn::If":
                condition, yes, no = argument
                return resolve(yes) if _conditions(template, resolve)[condition] else resolve(no)
            if function == "Fn::Equals":
                left, right = (resolve(a) for a in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not resolve(argument[0])
        return {k: r for k, r in ((k, resolve(v)) for k, v in node.items()) if r is not _NO_VALUE}

    return resolve


_NO_VALUE = object()


def _substitute(text: str, lookup: Any) -> str:

    return re.sub(r"\$\{([^}!]+)\}", lambda m: str(lookup(m.group(1))), text)
