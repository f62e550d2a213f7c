"""What handlers and jobs share: settings, database, renderer, clock, outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from bot.metrics import Metrics
from bot.settings import Settings
from content.render import Renderer
from domain.clock import Clock
from services.base import Runtime
from services.fleet import Fleet, FleetDesk
from services.meetings import CheckInDesk
from services.membership import MemberSightings
from storage.db import Database

if TYPE_CHECKING:
    from bot.outbox import OutboxDispatcher
    from scheduler.timetable import Timetable

SERVICES_KEY = "safetybot.services"


@dataclass
class Services:
    """The bot's collaborators, created once per Application."""

    settings: Settings
    db: Database
    renderer: Renderer
    clock: Clock
    timetable: Timetable
    outbox: OutboxDispatcher | None = field(default=None)
    # Counters and gauges served on /metrics (one registry per Application).
    metrics: Metrics = field(default_factory=Metrics)
    # The bots of this deployment (several tokens: see services/fleet.py).
    bots: Fleet = field(default_factory=lambda: Fleet(main=0))
    # With a hot standby: whether this instance waits for the leader's lock (healthy,
    # though not running) or leads; "single" without an election.
    standby_state: str = "single"  # single | standby | leader
    # Writes that many updates make at once (a shift start's taps), batched.
    sightings: MemberSightings = field(init=False)
    check_ins: CheckInDesk = field(init=False)
    fleet: FleetDesk = field(init=False)

    def __post_init__(self) -> None:
        self.sightings = MemberSightings(
            self.runtime(), return_after=self.settings.briefing_after_absence)
        self.check_ins = CheckInDesk(self.runtime())
        self.fleet = FleetDesk(self.runtime(), self.bots)

    def runtime(self) -> Runtime:
        """What service functions are given (plain collaborators, no bot)."""
        return Runtime(db=self.db, renderer=self.renderer, clock=self.clock,
                       default_language=self.settings.default_language,
                       default_timezone=self.settings.default_timezone,
                       wake=self.wake_outbox)

    def wake_outbox(self) -> None:
        """Tell the dispatcher new rows were committed, so it sends without waiting."""
        if self.outbox is not None:
            self.outbox.wake()


def get_services(bot_data: dict[Any, Any]) -> Services:
    """The services stored in an Application's ``bot_data``."""
    return cast(Services, bot_data[SERVICES_KEY])
