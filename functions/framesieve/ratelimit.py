"""Token-bucket rate limiting per key (an API key hash or a client address).

The buckets live in this process's memory, so the limit is per process: per
server on the embedded backend and per Lambda container on AWS, where
several warm containers each allow the full rate. The account-wide limit on
AWS is the API Gateway usage plan and its throttling settings.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from framesieve.errors import TooManyRequests

logger = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allow ``rate_per_second`` requests per key on average, with bursts of up to ``burst``.

    ``clock`` returns seconds from a monotonic source. ``max_keys`` bounds the
    memory used: past it, buckets that have refilled completely are dropped,
    which loses nothing because a full bucket is what a new key starts with.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError(f"rate_per_second must be positive and burst at least 1, got {rate_per_second}, {burst}")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def key_count(self) -> int:
        """Number of keys that have a bucket in memory."""
        with self._lock:
            return len(self._buckets)

    def check(self, key: str) -> None:
        """Take one token from ``key``'s bucket; raise TooManyRequests when it is empty."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._drop_full_buckets(now)
                bucket = _Bucket(tokens=float(self.burst), updated=now)
                self._buckets[key] = bucket
            else:
                self._refill(bucket, now)

            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return

            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_second))

        logger.debug("rate limit exceeded: key=%s retry_after=%d", key[:12], retry_after)
        raise TooManyRequests(
            f"too many requests: the limit is {self.rate_per_second:g} per second with bursts of {self.burst}; "
            f"retry after {retry_after} s",
            retry_after=retry_after,
        )

    def _refill(self, bucket: _Bucket, now: float) -> None:
        # max() keeps a clock that steps backwards from draining the bucket.
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_second)
        bucket.updated = now

    def _drop_full_buckets(self, now: float) -> None:
        full_after = self.burst / self.rate_per_second
        stale = [key for key, bucket in self._buckets.items() if now - bucket.updated >= full_after]
        for key in stale:
            del self._buckets[key]
        logger.info("rate limiter dropped idle buckets: dropped=%d kept=%d", len(stale), len(self._buckets))
