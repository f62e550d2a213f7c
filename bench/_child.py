"""A bot run as a benchmark's child process: polls until SIGTERM, snapshots on SIGUSR1.

Imported by the benchmark scripts as ``_child`` (a script's own folder is on the path).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any


async def serve(app: Any, snapshot: Callable[[], None] | None = None) -> None:
    """Run ``app`` (a PTB Application) against its server until the parent says stop."""
    from bot import lifecycle

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if snapshot is not None:
        loop.add_signal_handler(signal.SIGUSR1, snapshot)
    await lifecycle.start_polling(app, poll_timeout=10)
    await stop.wait()
    await lifecycle.stop(app)
