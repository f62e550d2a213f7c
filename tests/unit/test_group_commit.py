"""Group commits: callers arriving together share one store call; each gets its own result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.group_commit import GroupCommit


async def test_a_lone_item_is_stored_at_once_and_a_crowd_shares_batches() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def store(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            await release.wait()  # the first batch is slow: others pile up behind it
        return [item * 10 for item in items]

    commit: GroupCommit[int, int] = GroupCommit(store, max_batch=4)
    first = asyncio.create_task(commit.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert batches == [[1]]  # not held back waiting for company
    crowd = [asyncio.create_task(commit.submit(n)) for n in range(2, 12)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(first, *crowd)
    assert results == [n * 10 for n in range(1, 12)]
    assert batches == [[1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11]]
    assert (commit.batches, commit.items) == (4, 11)


async def test_a_failed_batch_fails_its_own_callers_only() -> None:
    calls = 0

    async def store(items: Sequence[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if "bad" in items:
            raise ValueError("constraint failed")
        return [item.upper() for item in items]

    commit: GroupCommit[str, str] = GroupCommit(store)
    failing = [asyncio.create_task(commit.submit(item)) for item in ("ok", "bad")]
    outcomes = await asyncio.gather(*failing, return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert await commit.submit("later") == "LATER"  # the next batch is unaffected
    assert calls == 2


async def test_a_store_that_loses_results_is_an_error() -> None:
    async def store(items: Sequence[int]) -> list[int]:
        return []

    commit: GroupCommit[int, int] = GroupCommit(store)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await commit.submit(1)
