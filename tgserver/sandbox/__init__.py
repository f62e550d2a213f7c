"""The sandbox page: a browser face on the test server, for people trying the bot.

``bot/sandbox.py`` wires it to the real bot and a demo organisation; this
package knows only the simulated Telegram (it never imports the bot).
"""

from __future__ import annotations

from tgserver.sandbox.web import (
    CLOCK_STEPS,
    SAMPLE_PHOTO,
    UPLOAD_LIMIT,
    Controls,
    Persona,
    SandboxError,
    SandboxWeb,
)

__all__ = ["CLOCK_STEPS", "SAMPLE_PHOTO", "UPLOAD_LIMIT", "Controls", "Persona", "SandboxError",
           "SandboxWeb"]
