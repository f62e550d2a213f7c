"""The Application factory: one place that wires PTB, storage, rendering and the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.context import BotContext
from bot.errors import CallbackAwareBot, on_error
from bot.http import BotApiHTTP
from bot.inbox import UpdateInbox
from bot.leadership import Election, Leadership, SoleInstance
from bot.members import group_member_check
from bot.menus import publish_menus
from bot.outbox import OutboxDispatcher
from bot.polling import DurableUpdater
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings, bot_id_of
from bot.updates import OrderedUpdateProcessor
from content.checklists import use_checklists_dir
from content.hazards import use_escalation_file
from content.post_cards import shipped_post_cards
from content.quizzes import shipped_bank
from content.render import Renderer
from content.risk_cards import load_risk_cards
from domain.clock import Clock, SystemClock
from domain.delivery import RetryPolicy
from domain.roll_call import EDIT_EVERY
from handlers import routes
from scheduler.documents import document_sweep
from scheduler.drills import RULES_EVERY, drill_rule_sweep, drill_sweep
from scheduler.escalation import escalation_sweep, idle_draft_sweep
from scheduler.evacuations import evacuation_sweep
from scheduler.handovers import handover_sweep
from scheduler.housekeeping import forget_old_updates
from scheduler.inspections import inspection_sweep
from scheduler.meetings import pre_shift_sweep
from scheduler.monthly_reports import monthly_report_sweep
from scheduler.quizzes import daily_quiz_sweep, early_poll_answers_sweep
from scheduler.roll_calls import roll_call_sweep
from scheduler.timetable import Timetable
from services.fleet import Fleet
from storage.db import Database
from storage.leader import supports_advisory_locks
from storage.migrate import upgrade

log = logging.getLogger(__name__)


class SafetyApplication(Application):  # type: ignore[type-arg]
    """PTB's Application with the bot's update processor (see :mod:`bot.updates`):
    updates handled concurrently, in order per chat, each at most once.

    With several tokens the main bot's Application carries the others'
    (``extra_applications``), started and stopped by its own start-up and shut-down.
    """

    extra_applications: list[SafetyApplication]  # set by build_application

    @property
    def after_update(self) -> list[Callable[[object], None]]:
        """Called with each update once it was handled (or dropped as a repeat)."""
        processor = self.update_processor
        assert isinstance(processor, OrderedUpdateProcessor)
        return processor.after_update


def flood_limiter(overall_per_second: float, group_per_minute: float,
                  speed: float = 1.0) -> AIORateLimiter:
    """The rate limiter every API call passes through, within Telegram's flood limits.

    The overall bucket holds one message, so sends are spaced evenly: a bucket of a
    whole second's budget lets a burst through after any pause, and Telegram counts
    that burst plus the next second's sends against the same 30 (each excess answered
    429, a wasted call). The outbox retries, honouring retry_after, so the limiter
    does not. ``speed`` scales both limits, as the test server's speed factor does.
    """
    return AIORateLimiter(
        overall_max_rate=1, overall_time_period=1 / (overall_per_second * speed),
        group_max_rate=group_per_minute, group_time_period=60 / speed, max_retries=0)


def build_application(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    renderer: Renderer | None = None,
    application_class: type[SafetyApplication] = SafetyApplication,
    outbox_autostart: bool = True,
    install_timetable: bool = True,
    leadership: Leadership | None = None,
) -> SafetyApplication:
    """Build the bot: handlers registered, services attached, outbox ready on start.

    Args:
        settings: The configuration (a token is required).
        db: The database; made from ``settings.database_url`` when not given.
        clock: The one clock (the system clock by default).
        renderer: The text renderer over ``content/``.
        application_class: A subclass to use (tests add hooks).
        outbox_autostart: Start the dispatcher's background loop on start-up.
        install_timetable: Put the sweeps on the JobQueue (tests call them instead).
        leadership: Who is active among instances on one database; from
            ``LEADER_ELECTION`` when not given. Start-up waits here until this instance
            leads: only then are migrations run, the outbox and timetable started and
            polling (or the webhook) begun.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    clock = clock or SystemClock()
    use_escalation_file(settings.escalation_file)
    bots = Fleet(main=bot_id_of(settings.telegram_bot_token.get_secret_value()),
                 extra=tuple(bot_id_of(t.get_secret_value())
                             for t in settings.telegram_extra_bot_tokens))
    services = Services(
        settings=settings,
        db=db or settings.database(),
        renderer=renderer or Renderer(default_language=settings.default_language,
                                      timezone=settings.default_timezone),
        clock=clock,
        timetable=Timetable(clock),
        bots=bots,
    )
    services.timetable.add("forget-old-updates", timedelta(hours=6),
                           forget_old_updates(services.db))
    services.timetable.add("escalate-hazards", timedelta(minutes=1), escalation_sweep(
        services.db, services.renderer, settings.default_language, services.wake_outbox))
    services.timetable.add("drop-idle-reports", timedelta(minutes=1), idle_draft_sweep(
        services.db, services.renderer, settings.default_language, services.wake_outbox))
    shipped_post_cards()  # read now: a broken card file stops the start, naming file and field
    services.timetable.add("pre-shift-meetings", timedelta(minutes=1), pre_shift_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        default_timezone=settings.default_timezone, reminder_grace=settings.reminder_grace,
        meeting_grace=settings.meeting_grace, wake=services.wake_outbox,
        risk_cards=load_risk_cards(settings.risk_cards_file)))
    services.timetable.add("watch-handovers", timedelta(minutes=1), handover_sweep(
        services.db, services.renderer, escalate_after=settings.handover_escalate_after,
        default_language=settings.default_language, wake=services.wake_outbox))
    services.timetable.add("policy-documents", timedelta(minutes=1), document_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        reminders=settings.document_reminders, reminder_grace=settings.reminder_grace,
        wake=services.wake_outbox))
    shipped_bank()  # a broken question bank stops the start, naming file and question
    services.timetable.add("daily-quiz", timedelta(minutes=1), daily_quiz_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        default_timezone=settings.default_timezone, at=settings.quiz_time,
        window=settings.quiz_window, wake=services.wake_outbox))
    services.timetable.add("evacuations", timedelta(minutes=1), evacuation_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        default_timezone=settings.default_timezone,
        missing_after=settings.evacuate_missing_after, wake=services.wake_outbox))
    services.timetable.add("drills", timedelta(minutes=1), drill_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        default_timezone=settings.default_timezone, reminders=settings.drill_reminders,
        wake=services.wake_outbox))
    services.timetable.add("drill-rules", RULES_EVERY, drill_rule_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        default_timezone=settings.default_timezone, wake=services.wake_outbox))
    use_checklists_dir(settings.checklists_dir)  # a broken checklist stops the start
    services.timetable.add("inspections", timedelta(minutes=1), inspection_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        default_timezone=settings.default_timezone, wake=services.wake_outbox))
    services.timetable.add("monthly-reports", timedelta(minutes=15), monthly_report_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        default_timezone=settings.default_timezone, send_at=settings.monthly_report_time,
        wake=services.wake_outbox))
    # As often as the roll-call throttle: a check-in or read held back is shown when
    # its window ends (briefings and documents alike).
    services.timetable.add("roll-calls", EDIT_EVERY, roll_call_sweep(
        services.db, services.renderer, wake=services.wake_outbox))

    extras: list[SafetyApplication] = []
    leader = leadership or elect(settings)

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        if not isinstance(leader, SoleInstance):
            services.standby_state = "standby"
        await leader.acquire()
        if not isinstance(leader, SoleInstance):
            services.standby_state = "leader"
        await upgrade(services.db)
        # The other bots receive their updates beside this one; the scheduler and
        # the outbox sender run once, here, for all of them.
        for extra in extras:
            await _start_receiving(extra)
        senders = {bots.main: app.bot, **{bots.extra[n]: extra.bot
                                          for n, extra in enumerate(extras)}}
        services.fleet.usernames.update(
            {bot_id: bot.username for bot_id, bot in senders.items() if bot.username})
        services.outbox = OutboxDispatcher(
            app.bot, services.db, services.clock,
            policy=RetryPolicy(max_attempts=settings.outbox_max_attempts),
            poll_seconds=settings.outbox_poll_seconds, instance=settings.outbox_instance,
            after_polls_sent=lambda: early_answers(services.clock.now()),
            on_delivered=services.metrics.outbox_delivered,
            senders=senders if bots.several else None,
            leader=None if isinstance(leader, SoleInstance) else lambda: leader.active)
        if outbox_autostart:
            services.outbox.start()
        if app.job_queue is not None and install_timetable:
            services.timetable.install(app.job_queue)
        me = await app.bot.get_me()
        if not me.can_read_all_group_messages:
            log.info("privacy mode is on: in groups the bot sees commands, replies and "
                     "mentions only (see the README)")
        for bot in senders.values():
            await publish_menus(bot, services.renderer, settings.default_language)

    async def post_stop(app: Application) -> None:  # type: ignore[type-arg]
        for extra in extras:
            await _stop_receiving(extra)
        await services.sightings.close()
        if services.outbox is not None:
            await services.outbox.stop()

    async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
        await leader.release()  # a standby takes over at once, not after a time-out

    app = _application(settings, settings.telegram_bot_token.get_secret_value(), services,
                       application_class, post_init=post_init, post_stop=post_stop,
                       post_shutdown=post_shutdown)
    for token in settings.telegram_extra_bot_tokens:
        extra = _application(settings, token.get_secret_value(), services, application_class)
        # One list of "handled" callbacks for every bot (tests wait on it).
        extra.update_processor.after_update = app.after_update  # type: ignore[attr-defined]
        extras.append(extra)
    app.extra_applications = extras
    if isinstance(leader, Election) and leader.on_lost is None:
        # A leader without its lock stops (and `safetybot run` exits non-zero, so the
        # supervisor starts it again as a standby); it was fenced already.
        leader.on_lost = app.stop_running
    # Votes that came before their poll's id: Telegram is asked through the main bot
    # about voters the bot has not seen (a poll answer on time asks through its own).
    early_answers = early_poll_answers_sweep(
        services.db, services.renderer, default_language=settings.default_language,
        is_member=group_member_check(app.bot), wake=services.wake_outbox)
    services.timetable.add("early-poll-answers", timedelta(minutes=1), early_answers)
    return app


def _application(settings: Settings, token: str, services: Services,
                 application_class: type[SafetyApplication], *,
                 post_init: Callable[[Application], Coroutine[Any, Any, None]] | None = None,  # type: ignore[type-arg]
                 post_stop: Callable[[Application], Coroutine[Any, Any, None]] | None = None,  # type: ignore[type-arg]
                 post_shutdown: Callable[[Application], Coroutine[Any, Any, None]] | None = None,  # type: ignore[type-arg]
                 ) -> SafetyApplication:
    """One bot's Application: its own HTTP pools, flood limiter and update processor,
    the shared services and every handler. Only the main one has the JobQueue and the
    start/stop hooks (the scheduler and the outbox run once)."""
    # Built here rather than by the builder so the error handler can ask it which
    # button presses were answered already; the pool sizes are the builder's own.
    bot = CallbackAwareBot(
        token,
        base_url=settings.api_base_url,
        base_file_url=settings.api_base_file_url,
        defaults=Defaults(parse_mode=ParseMode.HTML),
        rate_limiter=flood_limiter(settings.flood_overall_per_second,
                                   settings.flood_group_per_minute),
        request=BotApiHTTP(settings.telegram_connections,
                           on_answer=services.metrics.telegram_answered),
        get_updates_request=BotApiHTTP(1))
    # Polling confirms a batch to Telegram once it is stored in the inbox
    # (bot/polling.py, bot/inbox.py): a kill -9 loses nothing.
    inbox = UpdateInbox(services.db, bot)
    updater = DurableUpdater(bot, asyncio.Queue(), inbox)
    processor = OrderedUpdateProcessor(services.db, services.clock,
                                       concurrency=settings.update_concurrency)
    processor.on_durable.append(updater.backlog.done)
    # Batch handlers (poll votes) get their updates unparsed, outside PTB's dispatch.
    inbox.keep_raw = processor.takes_raw
    updater.take_together = processor.take_together
    processor.after_handling.append(services.metrics.update_handled)
    processor.after_repeat.append(services.metrics.update_repeated)
    builder = (
        ApplicationBuilder()
        .application_class(application_class)
        .updater(updater)
        .concurrent_updates(processor)
        .context_types(ContextTypes(context=BotContext))
    )
    if post_init is not None:
        builder = builder.post_init(post_init)
    if post_stop is not None:
        builder = builder.post_stop(post_stop)
    if post_shutdown is not None:
        builder = builder.post_shutdown(post_shutdown)
    if post_init is None:
        builder = builder.job_queue(None)  # type: ignore[arg-type]
    app = builder.build()
    assert isinstance(app, SafetyApplication)
    app.bot_data[SERVICES_KEY] = services
    routes.register(app)
    app.add_error_handler(on_error)
    return app


async def _start_receiving(app: SafetyApplication) -> None:
    """Start another bot's polling and handling (as ``run_polling`` does for one)."""
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, allowed_updates=ALLOWED_UPDATES,
                                    drop_pending_updates=False)
    await app.start()


async def _stop_receiving(app: SafetyApplication) -> None:
    """Stop another bot's polling, let its handlers finish, shut it down."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


def elect(settings: Settings) -> Leadership:
    """The election ``LEADER_ELECTION`` asks for (none on SQLite: one instance)."""
    if settings.leader_election == "off":
        return SoleInstance()
    if not supports_advisory_locks(settings.database_url):
        log.warning("LEADER_ELECTION=%s needs PostgreSQL; SQLite runs a single instance, "
                    "so this one is active", settings.leader_election)
        return SoleInstance()
    return Election(settings.database_url, retry=settings.leader_retry,
                    check=settings.leader_check)


ALLOWED_UPDATES = Update.ALL_TYPES
