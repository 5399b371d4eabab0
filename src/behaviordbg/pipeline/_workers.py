"""A bounded pool of asyncio workers over a list of work: the one place the run engine fans out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def in_parallel(items: Sequence[T], concurrency: int, work: Callable[[T], Awaitable[None]]) -> None:
    """Run `work` over `items` in order, at most `concurrency` at a time. The first failure stops
    the rest (they are cancelled and awaited) and is raised."""
    if not items:
        return
    todo = iter(items)

    async def worker() -> None:
        for item in todo:
            await work(item)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(items)))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
