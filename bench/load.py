"""The one HTTP client every API benchmark uses: httpx with keep-alive, C concurrent clients."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    first_error: str | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def _load(url: str, body: dict, headers: dict, n: int, concurrency: int, expect: int) -> LoadResult:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    remaining = n
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def worker() -> None:
            nonlocal remaining, errors, first_error
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                r = await client.post(url, json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != expect:
                    errors += 1
                    first_error = first_error or f"{r.status_code} {r.text[:300]}"

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return LoadResult(n, seconds, latencies, errors, first_error)


def post_load(
    url: str, body: dict, *, headers: dict | None = None, n: int, concurrency: int, expect: int = 201
) -> LoadResult:
    return asyncio.run(_load(url, body, headers or {}, n, concurrency, expect))


def merge(results: list[LoadResult]) -> LoadResult:
    errors = [r.first_error for r in results if r.first_error]
    return LoadResult(
        sum(r.requests for r in results),
        sum(r.seconds for r in results),
        [x for r in results for x in r.latencies],
        sum(r.errors for r in results),
        errors[0] if errors else None,
    )
