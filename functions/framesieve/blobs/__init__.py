"""Blob stores: videos in transit, frames, manifests and exports."""

from framesieve.blobs.base import BlobStore

__all__ = ["BlobStore"]
