"""CDK stacks that deploy framesieve to one AWS account and region."""
