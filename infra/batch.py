"""AWS Batch for the segment step: a VPC, GPU and CPU compute, queues and job definitions.

Each queue lists a Spot compute environment first and an on-demand one
second. Batch places a job in the first environment that has room under its
``maxvCpus``.
NOTE: Batch does not fall back to the on-demand environment when Spot
capacity is merely unavailable, so a job can wait in RUNNABLE until Spot
capacity returns. Lowering the Spot environment's ``maxvCpus`` makes the
fallback happen sooner.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import DeployConfig

# The container runs handlers/batch.py, which reads the step input from this
# variable, calls framesieve.pipeline.job.process_segment and exits non-zero
# when the step raises.
SEGMENT_COMMAND = ["python", "-m", "handlers.batch", "process_segment"]
PAYLOAD_VARIABLE = "FRAMESIEVE_STEP_PAYLOAD"

GPU_JOB_VCPUS = 4
# A g4dn.xlarge has 16 GiB; the ECS agent and the OS keep about 1 GiB of it.
GPU_JOB_MEMORY_MIB = 15 * 1024
CPU_JOB_VCPUS = 2
CPU_JOB_MEMORY_MIB = 4096
# Room on Fargate for the source video of one job (framesieve's default
# upload cap is 4 GiB) plus the frames of one segment.
CPU_JOB_EPHEMERAL_GIB = 40


@dataclass(frozen=True)
class SegmentTarget:
    """Queue and job definition for one kind of segment job."""

    queue: batch.JobQueue
    job_definition: batch.EcsJobDefinition


def _retry_strategies() -> list[batch.RetryStrategy]:
    # A reclaimed Spot instance or a failed image pull is no fault of the
    # segment, so Batch runs the job again. A non-zero exit means the step
    # raised, and a second run would raise again.
    return [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.NON_ZERO_EXIT_CODE),
    ]


class SegmentBatch(Construct):
    """Batch resources that run ``process_segment``; ``job_role`` is the containers' role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        cpu_image: ecr_assets.DockerImageAsset,
        gpu_image: ecr_assets.DockerImageAsset,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)

        self.vpc = self._vpc(config)
        self.security_group = ec2.SecurityGroup(
            self,
            "Jobs",
            vpc=self.vpc,
            description="framesieve segment jobs: no inbound traffic, outbound to AWS APIs and ECR",
            allow_all_outbound=True,
        )

        self.log_group = logs.LogGroup(
            self,
            "JobLogs",
            retention=config.retention,
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="framesieve segment jobs: the tables and blob prefixes process_segment uses",
        )

        job_environment = {**environment, "AWS_DEFAULT_REGION": Stack.of(self).region}
        self.gpu = self._gpu_target(config, gpu_image, job_environment)
        self.cpu = self._cpu_target(config, cpu_image, job_environment)

    def _vpc(self, config: DeployConfig) -> ec2.Vpc:
        # Public subnets and no NAT gateway: instances reach ECR, CloudWatch
        # and Step Functions through their public address, and S3 and
        # DynamoDB through free gateway endpoints. The security group admits
        # no inbound traffic.
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="jobs", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=20)
            ],
        )
        vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        vpc.add_gateway_endpoint("DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)

        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=config.retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        return vpc

    def _subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

    def _gpu_target(
        self, config: DeployConfig, image: ecr_assets.DockerImageAsset, environment: dict[str, str]
    ) -> SegmentTarget:
        instance_types = [ec2.InstanceType(name) for name in config.gpu_instance_types]
        nvidia_image = [batch.EcsMachineImage(image_type=batch.EcsMachineImageType.ECS_AL2023_NVIDIA)]

        spot = batch.ManagedEc2EcsComputeEnvironment(
            self,
            "GpuSpot",
            vpc=self.vpc,
            vpc_subnets=self._subnets(),
            security_groups=[self.security_group],
            spot=True,
            allocation_strategy=batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
            instance_types=instance_types,
            use_optimal_instance_classes=False,
            images=nvidia_image,
            minv_cpus=0,
            maxv_cpus=config.gpu_max_vcpus,
        )
        on_demand = batch.ManagedEc2EcsComputeEnvironment(
            self,
            "GpuOnDemand",
            vpc=self.vpc,
            vpc_subnets=self._subnets(),
            security_groups=[self.security_group],
            spot=False,
            allocation_strategy=batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
            instance_types=instance_types,
            use_optimal_instance_classes=False,
            images=nvidia_image,
            minv_cpus=0,
            maxv_cpus=config.gpu_max_vcpus,
        )
        queue = batch.JobQueue(
            self,
            "GpuQueue",
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=spot, order=1),
                batch.OrderedComputeEnvironment(compute_environment=on_demand, order=2),
            ],
        )

        definition = batch.EcsJobDefinition(
            self,
            "GpuSegmentJob",
            container=batch.EcsEc2ContainerDefinition(
                self,
                "GpuContainer",
                image=ecs.ContainerImage.from_docker_image_asset(image),
                command=SEGMENT_COMMAND,
                cpu=GPU_JOB_VCPUS,
                memory=Size.mebibytes(GPU_JOB_MEMORY_MIB),
                gpu=1,
                environment=environment,
                job_role=self.job_role,
                logging=ecs.LogDriver.aws_logs(stream_prefix="gpu", log_group=self.log_group),
            ),
            retry_attempts=3,
            retry_strategies=_retry_strategies(),
            timeout=Duration.minutes(config.segment_timeout_minutes),
        )
        return SegmentTarget(queue=queue, job_definition=definition)

    def _cpu_target(
        self, config: DeployConfig, image: ecr_assets.DockerImageAsset, environment: dict[str, str]
    ) -> SegmentTarget:
        spot = batch.FargateComputeEnvironment(
            self,
            "CpuSpot",
            vpc=self.vpc,
            vpc_subnets=self._subnets(),
            security_groups=[self.security_group],
            spot=True,
            maxv_cpus=config.cpu_max_vcpus,
        )
        on_demand = batch.FargateComputeEnvironment(
            self,
            "CpuOnDemand",
            vpc=self.vpc,
            vpc_subnets=self._subnets(),
            security_groups=[self.security_group],
            spot=False,
            maxv_cpus=config.cpu_max_vcpus,
        )
        queue = batch.JobQueue(
            self,
            "CpuQueue",
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=spot, order=1),
                batch.OrderedComputeEnvironment(compute_environment=on_demand, order=2),
            ],
        )

        definition = batch.EcsJobDefinition(
            self,
            "CpuSegmentJob",
            container=batch.EcsFargateContainerDefinition(
                self,
                "CpuContainer",
                image=ecs.ContainerImage.from_docker_image_asset(image),
                command=SEGMENT_COMMAND,
                cpu=CPU_JOB_VCPUS,
                memory=Size.mebibytes(CPU_JOB_MEMORY_MIB),
                ephemeral_storage_size=Size.gibibytes(CPU_JOB_EPHEMERAL_GIB),
                # Fargate tasks in a public subnet need a public address to
                # pull the image, because the VPC has no NAT gateway.
                assign_public_ip=True,
                environment=environment,
                job_role=self.job_role,
                logging=ecs.LogDriver.aws_logs(stream_prefix="cpu", log_group=self.log_group),
            ),
            retry_attempts=3,
            retry_strategies=_retry_strategies(),
            timeout=Duration.minutes(config.segment_timeout_minutes),
        )
        return SegmentTarget(queue=queue, job_definition=definition)
