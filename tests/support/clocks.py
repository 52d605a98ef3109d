"""Running the clock in tests: the real clock (jobs.clock.Clock: election, heartbeat,
runner, the APScheduler schedule) on a scheduler that is never started, its jobs run by
id at the moments the test chooses, with the test's clock as `now`."""

from __future__ import annotations

from dataclasses import replace

from apscheduler.schedulers.background import BackgroundScheduler

from changemgmt.jobs.clock import Clock


class Clocks:
    """Makes clocks over the test database; stops them all at the end."""

    def __init__(self, engine, settings, clock) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self.made: list[Clock] = []

    def __call__(self, **settings) -> Clock:
        """A new clock; a second one in the same second would share the first one's
        heartbeat id (<kind>-<host>-<pid>-<start second>), as no two processes can."""
        if self.made:
            self.clock.advance(seconds=1)
        made = Clock(self.engine, replace(self.settings, **settings), self.clock, BackgroundScheduler)
        self.made.append(made)
        return made

    def stop(self) -> None:
        for made in self.made:
            made.stop()
