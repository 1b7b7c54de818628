#!/usr/bin/env python3
"""CDK app entry: ``cdk deploy --all`` deploys framesieve to the current AWS account and region."""

import os

from aws_cdk import App, Environment

from infra.app import build_stacks

app = App()
build_stacks(
    app,
    Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
)
app.synth()
