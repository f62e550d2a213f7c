"""Start and stop the application inside an event loop someone else owns.

``run_polling`` owns its loop; tests and the local sandbox run the bot beside
other things (the Telegram test server), so they use these two functions,
which do what ``run_polling`` does, in the same order.
"""

from __future__ import annotations

from telegram.ext import Application

from bot.app import ALLOWED_UPDATES


async def start_polling(application: Application, *, poll_timeout: int = 10) -> None:  # type: ignore[type-arg]
    """Initialise, run ``post_init``, start polling and start handling updates."""
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=poll_timeout,
                                            allowed_updates=ALLOWED_UPDATES,
                                            drop_pending_updates=False)
    await application.start()


async def stop(application: Application) -> None:  # type: ignore[type-arg]
    """Stop polling, finish handling, run ``post_stop`` and shut down."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    if application.post_stop is not None:
        await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
