"""Synthesize the CDK app offline and check the CloudFormation it produces.

The app is synthesized once per module, without Docker and without the
network: the layer comes from the placeholder folder and the container
images are only staged, because the CDK CLI builds them at deploy time.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")

from aws_cdk import App, Stack  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402

from infra import access  # noqa: E402
from infra.app import Stacks, build_stacks  # noqa: E402
from infra.assets import MissingLayerError, layer_code  # noqa: E402
from infra.batch import PAYLOAD_VARIABLE, SEGMENT_COMMAND  # noqa: E402
from infra.config import DeployConfig  # noqa: E402
from infra.pipeline import STEP_HANDLERS  # noqa: E402
from infra.storage import TRANSIT_TAG_KEY, TRANSIT_TAG_VALUE  # noqa: E402
from infra.tables import TABLES  # noqa: E402

PREFIX = "framesieve"
CONTEXT = {"framesieve:layers": "placeholder"}
LAMBDA_TRANSIENT = {"Lambda.ServiceException", "Lambda.TooManyRequestsException"}
# Actions that AWS accepts only on Resource "*".
STAR_ONLY_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ecr:GetAuthorizationToken",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


@pytest.fixture(scope="module")
def cdk_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cdk-home")
    os.environ["CDK_HOME"] = str(home)
    return home


@pytest.fixture(scope="module")
def stacks(cdk_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Stacks:
    app = App(context=CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    built = build_stacks(app, check=False)
    app.synth()
    return built


@pytest.fixture(scope="module")
def storage(stacks: Stacks) -> Template:
    return Template.from_stack(stacks.storage)


@pytest.fixture(scope="module")
def pipeline(stacks: Stacks) -> Template:
    return Template.from_stack(stacks.pipeline)


@pytest.fixture(scope="module")
def api(stacks: Stacks) -> Template:
    return Template.from_stack(stacks.api)


def render(value: Any) -> str:
    """Flatten an intrinsic-function value into a string, naming each reference by logical id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}.get(
            value["Ref"], f"<{value['Ref']}>"
        )
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    raise AssertionError(f"unexpected intrinsic in a state machine definition: {value!r}")


def render_import(value: dict) -> str:
    """Construct id behind a cross-stack reference, such as ``JobPipeline``."""
    export_name = value["Fn::ImportValue"]
    match = re.fullmatch(r"\w+:ExportsOutputRef([A-Za-z]+?)[0-9A-F]{8}[0-9A-F]{8}", export_name)
    assert match, export_name
    return match.group(1)


def state_machine_definitions(template: Template) -> dict[str, dict]:
    """Parsed ASL of each state machine, keyed by the start state's name."""
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    definitions = [json.loads(render(machine["Properties"]["DefinitionString"])) for machine in machines.values()]
    return {definition["StartAt"]: definition for definition in definitions}


def function_handlers(template: Template) -> dict[str, str]:
    """Handler of each Lambda function, keyed by ``<LogicalId.Arn>`` as :func:`render` writes it."""
    handlers = {}
    for logical_id, function in template.find_resources("AWS::Lambda::Function").items():
        properties = function["Properties"]
        handler = properties.get("Handler") or properties["ImageConfig"]["Command"][0]
        handlers[f"<{logical_id}.Arn>"] = handler
    return handlers


def task_states(states: dict[str, dict]) -> dict[str, dict]:
    """Every Task state, with those inside Map iterations."""
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        if state["Type"] == "Map":
            found.update(task_states(state["ItemProcessor"]["States"]))
    return found


def policy_statements(template: Template) -> list[dict]:
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for role in template.find_resources("AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            statements.extend(inline["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# Storage


@pytest.mark.parametrize("design", TABLES, ids=lambda design: design.suffix)
def test_table_keys_and_settings(storage: Template, design: Any) -> None:
    key_schema = [{"AttributeName": design.partition.name, "KeyType": "HASH"}]
    if design.sort:
        key_schema.append({"AttributeName": design.sort.name, "KeyType": "RANGE"})

    storage.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "TableName": f"{PREFIX}-{design.suffix}",
                "KeySchema": key_schema,
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        },
    )


def test_table_indexes(storage: Template) -> None:
    tables = {
        table["Properties"]["TableName"]: table["Properties"]
        for table in storage.find_resources("AWS::DynamoDB::Table").values()
    }

    assert tables[f"{PREFIX}-projects"]["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-project-id",
            "KeySchema": [{"AttributeName": "project_id", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    by_created = lambda name, partition: {  # noqa: E731
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    assert tables[f"{PREFIX}-jobs"]["GlobalSecondaryIndexes"] == [
        by_created("by-project", "project_id"),
        by_created("by-status", "status"),
    ]
    assert tables[f"{PREFIX}-exports"]["GlobalSecondaryIndexes"] == [by_created("by-project", "project_id")]
    assert {"AttributeName": "created_at", "AttributeType": "N"} in tables[f"{PREFIX}-jobs"]["AttributeDefinitions"]
    for name in ("api-keys", "tags", "custom-models", "names"):
        assert "GlobalSecondaryIndexes" not in tables[f"{PREFIX}-{name}"], name


def test_tables_match_pynamodb_models(storage: Template) -> None:
    from framesieve.records.dynamo_models import build_models

    tables = {
        table["Properties"]["TableName"]: table["Properties"]
        for table in storage.find_resources("AWS::DynamoDB::Table").values()
    }
    models = build_models(PREFIX).all()
    assert sorted(model.Meta.table_name for model in models) == sorted(tables)

    key_set = lambda schema: {(key["AttributeName"], key["KeyType"]) for key in schema}  # noqa: E731
    for model in models:
        schema = model._get_schema()
        table = tables[model.Meta.table_name]
        assert key_set(schema["key_schema"]) == key_set(table["KeySchema"]), model.Meta.table_name

        model_indexes = {index["index_name"]: key_set(index["key_schema"]) for index in schema["global_secondary_indexes"]}
        table_indexes = {index["IndexName"]: key_set(index["KeySchema"]) for index in table.get("GlobalSecondaryIndexes", [])}
        assert model_indexes == table_indexes, model.Meta.table_name

        model_types = {item["AttributeName"]: item["AttributeType"] for item in schema["attribute_definitions"]}
        table_types = {item["AttributeName"]: item["AttributeType"] for item in table["AttributeDefinitions"]}
        assert model_types == table_types, model.Meta.table_name


def test_buckets_private_and_encrypted(storage: Template) -> None:
    buckets = storage.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 3

    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", logical_id


def test_data_buckets_retained_and_logged(storage: Template) -> None:
    buckets = storage.find_resources("AWS::S3::Bucket")
    log_bucket = next(logical_id for logical_id in buckets if logical_id.startswith("AccessLogs"))

    for logical_id in ("Blobs", "Exports"):
        matches = [bucket for name, bucket in buckets.items() if name.startswith(logical_id)]
        assert len(matches) == 1, logical_id
        bucket = matches[0]
        assert bucket["DeletionPolicy"] == "Retain", logical_id
        assert bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}


def test_bucket_policies_deny_plain_http(storage: Template) -> None:
    policies = storage.find_resources("AWS::S3::BucketPolicy")
    buckets = set(storage.find_resources("AWS::S3::Bucket"))
    secured = set()

    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                assert statement["Action"] == "s3:*"
                secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == buckets


def test_lifecycle_expires_transit_and_exports(storage: Template) -> None:
    storage.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        {
                            "Id": "expire-transit-videos",
                            "Status": "Enabled",
                            "ExpirationInDays": 7,
                            "TagFilters": [{"Key": TRANSIT_TAG_KEY, "Value": TRANSIT_TAG_VALUE}],
                        }
                    ]
                )
            }
        },
    )
    storage.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": [
                    Match.object_like({"Id": "expire-exports", "Status": "Enabled", "ExpirationInDays": 30})
                ]
            }
        },
    )


# API


API_ENVIRONMENT = {
    "Variables": Match.object_like(
        {
            "FRAMESIEVE_BACKEND": "aws",
            "FRAMESIEVE_AWS_TABLE_PREFIX": PREFIX,
            "FRAMESIEVE_AWS_BLOB_BUCKET": Match.any_value(),
            "FRAMESIEVE_AWS_EXPORT_BUCKET": Match.any_value(),
            "FRAMESIEVE_AWS_JOB_STATE_MACHINE_ARN": Match.any_value(),
            "FRAMESIEVE_AWS_EXPORT_STATE_MACHINE_ARN": Match.any_value(),
        }
    )
}


def test_api_function_serves_chalice_app(api: Template) -> None:
    api.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "ImageConfig": {"Command": ["framesieve.api.lambda_handler"], "EntryPoint": ["python", "-m", "awslambdaric"]},
            "MemorySize": 1024,
            "Timeout": 29,
            "Environment": API_ENVIRONMENT,
        },
    )
    api.resource_count_is("AWS::Lambda::LayerVersion", 0)


def test_api_layer_variant_uses_zip(cdk_home: Path, tmp_path: Path) -> None:
    app = App(context={**CONTEXT, "framesieve:api_code": "layer"}, outdir=str(tmp_path / "cdk.out"))
    stacks = build_stacks(app, check=False)
    template = Template.from_stack(stacks.api)

    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "framesieve.api.lambda_handler",
            "Runtime": "python3.12",
            "MemorySize": 1024,
            "Timeout": 29,
            "Layers": Match.any_value(),
            "Environment": API_ENVIRONMENT,
        },
    )
    template.resource_count_is("AWS::Lambda::LayerVersion", 1)


def test_api_gateway_proxies_every_path(api: Template) -> None:
    api.resource_count_is("AWS::ApiGateway::RestApi", 1)
    api.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "{proxy+}"})
    api.has_resource_properties(
        "AWS::ApiGateway::Method",
        {"HttpMethod": "ANY", "Integration": Match.object_like({"Type": "AWS_PROXY"})},
    )
    api.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {"StageName": "prod", "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()})},
    )

    outputs = api.find_outputs("ApiBaseUrl")
    assert len(outputs) == 1
    # The stage's Ref is its name, so the URL ends "/prod/v1/" once deployed.
    assert re.fullmatch(
        r"https://<Api\w+>\.execute-api\.us-east-1\.<AWS::URLSuffix>/<ApiDeploymentStageprod\w+>/v1/",
        render(outputs["ApiBaseUrl"]["Value"]),
    )


def test_api_can_start_both_pipelines(api: Template) -> None:
    started = [
        statement
        for statement in policy_statements(api)
        if "states:StartExecution" in as_list(statement["Action"])
    ]
    resources = [render_import(resource) for statement in started for resource in as_list(statement["Resource"])]
    assert sorted(resources) == ["ExportPipeline", "JobPipeline"]


# Pipeline


def test_job_pipeline_states_in_order(pipeline: Template) -> None:
    definition = state_machine_definitions(pipeline)["Fetch video"]
    states = definition["States"]

    order = []
    name = definition["StartAt"]
    while name in ("Fetch video", "Probe and plan", "Merge segments", "Finalize job"):
        order.append(name)
        name = states[name]["Next"]
        if name == "Choose segment queue":
            name = states["Use CPU queue"]["Next"]
            order.append("Process segments")
            name = states[name]["Next"]
    assert order == ["Fetch video", "Probe and plan", "Process segments", "Merge segments", "Finalize job"]
    assert states["Finalize job"]["Next"] == "Job finished"
    assert states["Job finished"]["Type"] == "Succeed"

    choice = states["Choose segment queue"]
    assert choice["Type"] == "Choice"
    assert choice["Choices"][0]["Next"] == "Use GPU queue"
    assert {"Variable": "$.needs_gpu", "BooleanEquals": True} in choice["Choices"][0]["And"]
    assert choice["Default"] == "Use CPU queue"


def test_job_pipeline_lambda_steps_call_their_handlers(pipeline: Template) -> None:
    definition = state_machine_definitions(pipeline)["Fetch video"]
    handlers = function_handlers(pipeline)
    expected = {
        "Fetch video": "fetch_video",
        "Probe and plan": "probe_and_plan",
        "Merge segments": "merge_segments",
        "Finalize job": "finalize_job",
        "Record job failure": "fail_job",
    }

    for state_name, step in expected.items():
        state = definition["States"][state_name]
        assert state["Resource"] == "arn:aws:states:::lambda:invoke", state_name
        assert state["OutputPath"] == "$.Payload", state_name
        assert handlers[state["Parameters"]["FunctionName"]] == STEP_HANDLERS[step], state_name

    merge = definition["States"]["Merge segments"]["Parameters"]["Payload"]
    assert merge == {"job_id.$": "$.job_id", "parts.$": "$.parts"}


def test_segment_map_runs_batch_jobs(pipeline: Template) -> None:
    states = state_machine_definitions(pipeline)["Fetch video"]["States"]
    segments = states["Process segments"]

    assert segments["Type"] == "Map"
    assert segments["ItemsPath"] == "$.segments"
    assert segments["ResultPath"] == "$.parts"
    assert segments["ItemSelector"]["step_input"] == {
        "job_id.$": "$.job_id",
        "video_key.$": "$.video_key",
        "info.$": "$.info",
        "models.$": "$.models",
        "model_tags.$": "$.model_tags",
        "cascade.$": "$.cascade",
        "segment.$": "$$.Map.Item.Value",
    }

    inner = segments["ItemProcessor"]["States"]
    queues = {}
    for name in ("Process segment on GPU", "Process segment on CPU"):
        task = inner[name]
        assert task["Resource"] == "arn:aws:states:::batch:submitJob.sync", name
        assert task["ResultPath"] is None, name
        assert task["Next"] == "Segment result", name
        environment = task["Parameters"]["ContainerOverrides"]["Environment"]
        assert environment == [{"Name": PAYLOAD_VARIABLE, "Value.$": "States.JsonToString($.step_input)"}], name
        queues[name] = task["Parameters"]["JobQueue"]
    assert queues["Process segment on GPU"] != queues["Process segment on CPU"]

    assert inner["Segment result"]["Parameters"] == {
        "job_id.$": "$.step_input.job_id",
        "segment_index.$": "$.step_input.segment.index",
    }


def test_every_task_retries_with_backoff(pipeline: Template) -> None:
    for definition in state_machine_definitions(pipeline).values():
        for name, task in task_states(definition["States"]).items():
            retries = task.get("Retry", [])
            assert retries, name
            for retry in retries:
                assert retry["BackoffRate"] > 1, name
                assert retry["MaxAttempts"] >= 2, name
            errors = {error for retry in retries for error in retry["ErrorEquals"]}
            if task["Resource"].endswith("lambda:invoke"):
                assert LAMBDA_TRANSIENT <= errors, name
            else:
                assert "Batch.AWSBatchException" in errors, name


def test_every_step_catches_into_failure_task(pipeline: Template) -> None:
    definitions = state_machine_definitions(pipeline)
    cases = (
        (definitions["Fetch video"], "Record job failure", "Job failed"),
        (definitions["Build export"], "Record export failure", "Export failed"),
    )

    for definition, failure_task, fail_state in cases:
        states = definition["States"]
        for name, state in states.items():
            if state["Type"] not in ("Task", "Map") or name == failure_task:
                continue
            catch = state["Catch"]
            assert catch == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failure_task}], name

        assert states[failure_task]["Next"] == fail_state
        assert states[fail_state]["Type"] == "Fail"
        record_id = "job_id" if failure_task == "Record job failure" else "export_id"
        assert states[failure_task]["Parameters"]["Payload"] == {f"{record_id}.$": f"$.{record_id}", "error.$": "$.error"}


def test_export_pipeline_builds_then_succeeds(pipeline: Template) -> None:
    definition = state_machine_definitions(pipeline)["Build export"]
    handlers = function_handlers(pipeline)
    states = definition["States"]

    assert handlers[states["Build export"]["Parameters"]["FunctionName"]] == STEP_HANDLERS["build_export"]
    assert handlers[states["Record export failure"]["Parameters"]["FunctionName"]] == STEP_HANDLERS["fail_export"]
    assert states["Build export"]["Next"] == "Export complete"
    assert states["Export complete"]["Type"] == "Succeed"


def test_step_functions_run_pipeline_image(pipeline: Template) -> None:
    functions = pipeline.find_resources("AWS::Lambda::Function")
    commands = sorted(function["Properties"]["ImageConfig"]["Command"][0] for function in functions.values())
    assert commands == sorted(STEP_HANDLERS.values())

    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["PackageType"] == "Image", logical_id
        assert properties["ImageConfig"]["EntryPoint"] == ["python", "-m", "awslambdaric"], logical_id
        assert properties["Environment"]["Variables"]["FRAMESIEVE_BACKEND"] == "aws", logical_id


def test_gpu_queue_prefers_spot(pipeline: Template) -> None:
    environments = pipeline.find_resources("AWS::Batch::ComputeEnvironment")
    gpu = {
        logical_id: environment["Properties"]["ComputeResources"]
        for logical_id, environment in environments.items()
        if logical_id.startswith("SegmentsGpu")
    }
    assert len(gpu) == 2
    spot = next(logical_id for logical_id, resources in gpu.items() if resources["Type"] == "SPOT")
    on_demand = next(logical_id for logical_id, resources in gpu.items() if resources["Type"] == "EC2")
    for resources in gpu.values():
        assert all(kind.startswith(("g4dn.", "g5.")) for kind in resources["InstanceTypes"])
        assert resources["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]

    queues = pipeline.find_resources("AWS::Batch::JobQueue")
    orders = [queue["Properties"]["ComputeEnvironmentOrder"] for queue in queues.values()]
    arn = lambda logical_id: {"Fn::GetAtt": [logical_id, "ComputeEnvironmentArn"]}  # noqa: E731
    gpu_order = [order for order in orders if arn(spot) in [item["ComputeEnvironment"] for item in order]]
    assert gpu_order == [
        [
            {"ComputeEnvironment": arn(spot), "Order": 1},
            {"ComputeEnvironment": arn(on_demand), "Order": 2},
        ]
    ]


def test_cpu_queue_runs_on_fargate(pipeline: Template) -> None:
    environments = pipeline.find_resources("AWS::Batch::ComputeEnvironment")
    cpu_types = sorted(
        environment["Properties"]["ComputeResources"]["Type"]
        for logical_id, environment in environments.items()
        if logical_id.startswith("SegmentsCpu")
    )
    assert cpu_types == ["FARGATE", "FARGATE_SPOT"]


def test_segment_job_definitions(pipeline: Template) -> None:
    definitions = pipeline.find_resources("AWS::Batch::JobDefinition")
    assert len(definitions) == 2

    gpu_requirements = None
    for definition in definitions.values():
        properties = definition["Properties"]
        container = properties["ContainerProperties"]
        assert container["Command"] == SEGMENT_COMMAND
        assert properties["RetryStrategy"]["Attempts"] == 3
        variables = {item["Name"] for item in container["Environment"]}
        assert {"FRAMESIEVE_BACKEND", "FRAMESIEVE_AWS_TABLE_PREFIX", "FRAMESIEVE_AWS_BLOB_BUCKET"} <= variables
        if properties.get("PlatformCapabilities") == ["EC2"]:
            gpu_requirements = container["ResourceRequirements"]
    assert {"Type": "GPU", "Value": "1"} in gpu_requirements


def test_pipeline_images_staged_not_built(stacks: Stacks) -> None:
    assembly = stacks.pipeline.node.root.synth()
    artifact = assembly.get_stack_artifact(stacks.pipeline.artifact_id)
    manifest = json.loads(Path(assembly.directory, f"{artifact.id}.assets.json").read_text())
    images = manifest["dockerImages"].values()

    targets = sorted(image["source"]["dockerBuildTarget"] for image in images)
    assert targets == ["cpu", "gpu"]
    for image in images:
        staged = Path(assembly.directory, image["source"]["directory"])
        assert (staged / "Dockerfile").is_file()
        assert (staged / "handlers" / "batch.py").is_file()


# Operations and IAM


@pytest.mark.parametrize("stack_name", ["storage", "pipeline", "api"])
def test_log_groups_expire(stacks: Stacks, stack_name: str) -> None:
    template = Template.from_stack(getattr(stacks, stack_name))
    for logical_id, group in template.find_resources("AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] == 30, logical_id

    for logical_id, function in template.find_resources("AWS::Lambda::Function").items():
        assert "LogGroup" in function["Properties"]["LoggingConfig"], logical_id


def test_state_machines_log_and_trace(pipeline: Template) -> None:
    machines = pipeline.find_resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == 2
    for logical_id, machine in machines.items():
        properties = machine["Properties"]
        assert properties["LoggingConfiguration"]["Level"] == "ALL", logical_id
        assert properties["TracingConfiguration"] == {"Enabled": True}, logical_id


def test_alarm_per_state_machine(pipeline: Template) -> None:
    machines = set(pipeline.find_resources("AWS::StepFunctions::StateMachine"))
    alarmed = set()

    for alarm in pipeline.find_resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        assert properties["Threshold"] == 1
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        metric_names = set()
        for query in properties["Metrics"]:
            stat = query.get("MetricStat")
            if stat:
                metric_names.add(stat["Metric"]["MetricName"])
                dimension = stat["Metric"]["Dimensions"][0]["Value"]
                alarmed.add(dimension["Ref"])
        assert metric_names == {"ExecutionsFailed", "ExecutionsTimedOut"}
    assert alarmed == machines


@pytest.mark.parametrize("stack_name", ["storage", "pipeline", "api"])
def test_no_statement_grants_everything(stacks: Stacks, stack_name: str) -> None:
    template = Template.from_stack(getattr(stacks, stack_name))
    for statement in policy_statements(template):
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        assert "*" not in actions, statement
        assert not any(action.endswith(":*") for action in actions if statement["Effect"] == "Allow"), statement
        if "*" in resources:
            assert set(actions) <= STAR_ONLY_ACTIONS, statement


def test_step_roles_reach_only_their_prefixes(pipeline: Template) -> None:
    roles = pipeline.find_resources("AWS::IAM::Role")
    policies = pipeline.find_resources("AWS::IAM::Policy")
    role_of_fetch = next(logical_id for logical_id in roles if logical_id.startswith("FetchVideoServiceRole"))
    fetch_policy = next(
        policy for policy in policies.values() if {"Ref": role_of_fetch} in policy["Properties"]["Roles"]
    )

    object_resources = set()
    table_resources = set()
    for statement in fetch_policy["Properties"]["PolicyDocument"]["Statement"]:
        for resource in as_list(statement["Resource"]):
            text = render(resource)
            if ":s3:::" in text and "/" in text:
                object_resources.add(text.split("/", 1)[1])
            if ":dynamodb:" in text:
                table_resources.add(text.split(":table/", 1)[1])
    assert object_resources == {access.TRANSIT}
    assert table_resources == {f"{PREFIX}-jobs", f"{PREFIX}-jobs/index/*"}


# cdk-nag and configuration


def test_cdk_nag_finds_no_unacknowledged_errors(cdk_home: Path, tmp_path: Path) -> None:
    app = App(context=CONTEXT, outdir=str(tmp_path / "cdk.out"))
    build_stacks(app, check=True)

    # The AwsSolutions plugin raises ValidationFailed on any finding left.
    app.synth()

    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]


def test_cdk_nag_flags_unacknowledged_bucket(cdk_home: Path, tmp_path: Path) -> None:
    app = App(context=CONTEXT, outdir=str(tmp_path / "cdk.out"))
    build_stacks(app, check=True)
    extra = Stack(app, "Extra")
    s3.Bucket(extra, "Plain")

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()

    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    rules = {violation["ruleName"] for plugin in report["pluginReports"] for violation in plugin["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_config_rejects_bad_prefix(cdk_home: Path) -> None:
    for prefix in ("Framesieve", "frame_sieve", "x" * 24, ""):
        with pytest.raises(ValueError, match="table_prefix"):
            DeployConfig.from_context(App(context={"framesieve:table_prefix": prefix}))


def test_config_reads_context(cdk_home: Path) -> None:
    config = DeployConfig.from_context(
        App(context={"framesieve:gpu_instance_types": "g5.xlarge, g5.2xlarge", "framesieve:log_retention": "ONE_YEAR"})
    )
    assert config.gpu_instance_types == ("g5.xlarge", "g5.2xlarge")
    assert config.retention.name == "ONE_YEAR"
    with pytest.raises(ValueError, match="log_retention"):
        DeployConfig.from_context(App(context={"framesieve:log_retention": "30"}))


def test_missing_layer_stops_synth(cdk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.assets

    monkeypatch.setattr(infra.assets, "LAYERS_DIR", tmp_path)
    with pytest.raises(MissingLayerError, match="layers/build.py"):
        layer_code("api", DeployConfig(layers="built"))

    (tmp_path / "dist" / "api" / "python").mkdir(parents=True)
    assert layer_code("api", DeployConfig(layers="built")) is not None
