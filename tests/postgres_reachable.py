"""Exit 0 when the test PostgreSQL answers; else print why not and exit 1.

``make test`` asks before running the integration tests a second time on PostgreSQL,
so a machine without PostgreSQL gets one line saying why that run was skipped.
"""

from __future__ import annotations

import asyncio
import sys

from tests.conftest import _postgres_reachable


def main() -> int:
    """Print the reason PostgreSQL is unreachable (exit 1), or nothing (exit 0)."""
    reason = asyncio.run(_postgres_reachable())
    if reason:
        print(reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
