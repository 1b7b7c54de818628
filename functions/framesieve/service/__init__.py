"""The Sieve v1 operations, independent of HTTP and of the storage backend.

Each endpoint is a function ``(ctx, params) -> dict`` whose dict is the JSON
response body; the Chalice routes only parse, authenticate and serialise.
"""
