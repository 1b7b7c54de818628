"""Per-frame tags: the built-in image-quality tags and the batch tagger interface."""

from framesieve.tagging.builtin import BUILTIN_TAGS, FrameTagger
from framesieve.tagging.spec import BatchTagger, TagSpec, TagValue

__all__ = ["BUILTIN_TAGS", "BatchTagger", "FrameTagger", "TagSpec", "TagValue"]
