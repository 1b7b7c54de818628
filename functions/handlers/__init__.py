"""Entry points that AWS invokes: Lambda handlers for the pipeline steps and the Batch command."""
