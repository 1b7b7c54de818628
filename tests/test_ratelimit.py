"""Token-bucket limits driven by a clock the test advances by hand."""

from __future__ import annotations

import threading

import pytest

from framesieve.errors import TooManyRequests
from framesieve.ratelimit import RateLimiter


class ManualClock:
    """A monotonic clock that moves only when the test calls advance()."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_reject():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=3, clock=clock)

    for _ in range(3):
        limiter.check("key-a")

    with pytest.raises(TooManyRequests) as caught:
        limiter.check("key-a")

    assert caught.value.status == 429
    assert caught.value.retry_after == 1
    assert "retry after 1 s" in caught.value.description


def test_refill_over_time():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=2.0, burst=2, clock=clock)
    limiter.check("k")
    limiter.check("k")

    clock.advance(0.4)
    with pytest.raises(TooManyRequests):
        limiter.check("k")

    # 0.5 s at 2 per second refills one token.
    clock.advance(0.1)
    limiter.check("k")
    with pytest.raises(TooManyRequests):
        limiter.check("k")


def test_refill_capped_at_burst():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=10.0, burst=2, clock=clock)
    limiter.check("k")

    clock.advance(3600)
    limiter.check("k")
    limiter.check("k")
    with pytest.raises(TooManyRequests):
        limiter.check("k")


def test_retry_after_rounds_up():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=0.1, burst=1, clock=clock)
    limiter.check("k")

    clock.advance(2.5)
    with pytest.raises(TooManyRequests) as caught:
        limiter.check("k")

    # 0.25 token left to earn at 0.1 per second is 7.5 s, rounded up to 8.
    assert caught.value.retry_after == 8


def test_rejected_request_takes_no_token():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=clock)
    limiter.check("k")
    for _ in range(5):
        with pytest.raises(TooManyRequests):
            limiter.check("k")

    clock.advance(1.0)
    limiter.check("k")


def test_keys_are_independent():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=clock)
    limiter.check("a")

    limiter.check("b")
    with pytest.raises(TooManyRequests):
        limiter.check("a")


def test_clock_stepping_back_keeps_tokens():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=2, clock=clock)
    limiter.check("k")

    clock.advance(-100)
    limiter.check("k")
    with pytest.raises(TooManyRequests):
        limiter.check("k")


def test_idle_buckets_dropped_at_max_keys():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=2, clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.check(key)
        limiter.check(key)

    # After 2 s every bucket is full again and may be forgotten.
    clock.advance(2.0)
    limiter.check("d")
    assert limiter.key_count == 1

    # A forgotten key starts with a full bucket, as it would have had anyway.
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(TooManyRequests):
        limiter.check("a")


def test_busy_buckets_kept_at_max_keys():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=2, clock=clock, max_keys=2)
    limiter.check("a")
    limiter.check("a")
    limiter.check("b")

    clock.advance(0.5)
    limiter.check("c")
    assert limiter.key_count == 3

    with pytest.raises(TooManyRequests):
        limiter.check("a")


def test_threads_share_one_bucket():
    clock = ManualClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=50, clock=clock)
    allowed = []
    rejected = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            try:
                limiter.check("shared")
                outcome = allowed
            except TooManyRequests:
                outcome = rejected
            with lock:
                outcome.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(allowed) == 50
    assert len(rejected) == 8 * 20 - 50


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_invalid_configuration(rate, burst):
    with pytest.raises(ValueError):
        RateLimiter(rate_per_second=rate, burst=burst)
