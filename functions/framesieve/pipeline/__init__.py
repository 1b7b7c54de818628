"""Pipeline steps: plain functions from one JSON dict to another.

The same functions run as Step Functions Lambda states and Batch jobs on AWS
and in the local executor's threads on one machine.
"""
