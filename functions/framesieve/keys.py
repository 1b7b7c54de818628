"""Blob keys. Every key is built here from ids the platform generated.

Keys start with the customer id, so one customer's objects share a prefix
that no other customer's key can reach. Client-chosen names never appear in
a key.
"""

from __future__ import annotations


def project_prefix(customer_id: str, project_id: str) -> str:
    return f"customers/{customer_id}/projects/{project_id}"


def transit_video(customer_id: str, project_id: str, job_id: str) -> str:
    return f"{project_prefix(customer_id, project_id)}/transit/{job_id}/video"


def video_prefix(customer_id: str, project_id: str, job_id: str) -> str:
    return f"{project_prefix(customer_id, project_id)}/videos/{job_id}"


def frame_image(customer_id: str, project_id: str, job_id: str, frame_number: int) -> str:
    return f"{video_prefix(customer_id, project_id, job_id)}/frames/{frame_number:08d}.jpg"


def segment_part(customer_id: str, project_id: str, job_id: str, segment_index: int) -> str:
    return f"{video_prefix(customer_id, project_id, job_id)}/parts/{segment_index:05d}.parquet"


def frame_index(customer_id: str, project_id: str, job_id: str) -> str:
    """Columnar frame manifest that queries read."""
    return f"{video_prefix(customer_id, project_id, job_id)}/frames.parquet"


def frame_manifest(customer_id: str, project_id: str, job_id: str) -> str:
    """JSON frame manifest for people and tools that do not read Parquet."""
    return f"{video_prefix(customer_id, project_id, job_id)}/frames.json"


def export_prefix(customer_id: str, project_id: str, export_id: str) -> str:
    return f"{project_prefix(customer_id, project_id)}/exports/{export_id}"


def export_manifest(customer_id: str, project_id: str, export_id: str) -> str:
    return f"{export_prefix(customer_id, project_id, export_id)}/metadata.json"


def export_tarball(customer_id: str, project_id: str, export_id: str) -> str:
    return f"{export_prefix(customer_id, project_id, export_id)}/frames.tar.gz"


def model_file(customer_id: str, project_id: str, model_id: str, version_id: str, index: int) -> str:
    return f"{project_prefix(customer_id, project_id)}/models/{model_id}/{version_id}/{index:03d}"
