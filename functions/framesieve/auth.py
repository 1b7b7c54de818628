"""API keys: creation and lookup. Only the SHA-256 of a key is stored."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time

from framesieve.errors import Forbidden, RecordNotFound, Unauthorized
from framesieve.records.base import ApiKey, RecordStore

logger = logging.getLogger(__name__)

KEY_PREFIX = "fsk_"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def create_api_key(
    records: RecordStore,
    name: str,
    *,
    can_set: bool = True,
    can_store: bool = True,
    videos_left: int = 1000,
    hours_left: float = 100.0,
) -> tuple[str, ApiKey]:
    """Create a key for a new customer; returns the raw key (shown once) and its record."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_hash = hash_key(raw_key)

    # A key is its own customer: the hash doubles as the customer id, so
    # every project, job and blob prefix hangs off one value.
    record = ApiKey(
        key_hash=key_hash,
        customer_id=key_hash,
        name=name,
        created_at=time.time(),
        can_set=can_set,
        can_store=can_store,
        videos_left=videos_left,
        hours_left=hours_left,
    )
    records.put_api_key(record)
    logger.info("api key created name=%s customer=%s", name, key_hash[:12])
    return raw_key, record


def authenticate(records: RecordStore, raw_key: str | None) -> ApiKey:
    """Return the key record for the ``X-API-Key`` header value."""
    if not raw_key:
        raise Unauthorized("missing X-API-Key header: pass your API key in the X-API-Key header")
    try:
        return records.get_api_key(hash_key(raw_key.strip()))
    except RecordNotFound:
        raise Forbidden("invalid API key") from None
