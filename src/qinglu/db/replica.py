"""Public reads on a streaming-replication hot standby, writes and a writer's reads on
the primary.

`QINGLU_READ_DATABASE_URL` names the standby; `QINGLU_READ_MAX_LAG` (seconds, default
5) is how far behind it may be. The web app sends the public reads (verification,
serial look-up, public registry pages, exports, price charts: `web.deps`) through a
`ReadRouter`, which picks the standby while it answers and keeps up, else the primary,
with a warning in the log when it switches.

Read-your-writes: after a write request the app hands the client the primary's WAL
position (`qinglu_lsn` cookie and `X-Qinglu-LSN` header). A read that carries it goes to
the standby only once the standby has replayed that far (`pg_last_wal_replay_lsn()`),
else to the primary: the writer never waits, and never reads a state older than its own
write. The standby's state is probed at most every `check_every` seconds, in a thread,
by one request at a time; the others use the last probe.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)

READ_URL_ENV = "QINGLU_READ_DATABASE_URL"
MAX_LAG_ENV = "QINGLU_READ_MAX_LAG"
DEFAULT_MAX_LAG = 5.0
CHECK_EVERY = 1.0
LSN_COOKIE = "qinglu_lsn"
LSN_HEADER = "X-Qinglu-LSN"
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")

# Lag 0 while the standby has replayed all it received (an idle primary sends nothing,
# so the last replay's age alone would grow without any delay); else the age of the last
# replayed transaction.
_PROBE = text("""
SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END
""")


def read_database_url() -> str | None:
    return os.environ.get(READ_URL_ENV) or None


def max_lag() -> float:
    return float(os.environ.get(MAX_LAG_ENV, DEFAULT_MAX_LAG))


def parse_lsn(value: str | None) -> int | None:
    """A WAL position as PostgreSQL writes it ('16/B374D848'); anything else (a client
    sends it back, so it may be anything) is None."""
    if not value:
        return None
    match = _LSN.match(value.strip())
    if match is None:
        return None
    return (int(match[1], 16) << 32) | int(match[2], 16)


def current_lsn(connection: Connection) -> str:
    """The primary's WAL position: every commit acknowledged so far lies before it."""
    return str(connection.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one())


@dataclass(frozen=True)
class StandbyState:
    usable: bool
    replay_lsn: int
    lag: float | None  # seconds; None when the standby did not answer
    checked_at: float


_UNCHECKED = StandbyState(usable=False, replay_lsn=0, lag=None, checked_at=float("-inf"))


class ReadRouter:
    """Which engine serves a public read: the standby, or the primary as fallback."""

    def __init__(self, primary: Engine, standby: Engine | None, *,
                 max_lag: float = DEFAULT_MAX_LAG, check_every: float = CHECK_EVERY) -> None:
        self.primary = primary
        self.standby = standby
        self.max_lag = max_lag
        self.check_every = check_every
        self.state = _UNCHECKED
        self._probing = threading.Lock()
        self._warned: str | None = None

    def stale(self) -> bool:
        return (self.standby is not None
                and time.monotonic() - self.state.checked_at >= self.check_every)

    def refresh(self) -> None:
        """Probe the standby, unless another thread is probing it now (its answer will
        do). Blocking: call from a worker thread."""
        if not self._probing.acquire(blocking=False):
            return
        try:
            self.state = self._probe()
        finally:
            self._probing.release()

    def engine_for(self, after_lsn: int | None = None) -> Engine:
        """The standby if the last probe found it up, in recovery, within the lag limit
        and past `after_lsn` (the caller's last write); else the primary."""
        state = self.state
        if self.standby is None or not state.usable:
            return self.primary
        if after_lsn is not None and state.replay_lsn < after_lsn:
            return self.primary
        return self.standby

    def standby_failed(self, error: BaseException) -> None:
        """A read on the standby failed (it stopped between probes): the next reads go to
        the primary until a probe finds it back."""
        self.state = StandbyState(False, 0, None, time.monotonic())
        self._warn("down", "standby read failed, reads go to the primary: %s", error)

    def _probe(self) -> StandbyState:
        assert self.standby is not None
        now = time.monotonic()
        try:
            with self.standby.connect() as connection:
                in_recovery, replay, lag = connection.execute(_PROBE).one()
        except SQLAlchemyError as error:
            self._warn("down", "standby unreachable, reads go to the primary: %s",
                       type(error).__name__)
            return StandbyState(False, 0, None, now)
        lag = float(lag or 0)
        if not in_recovery:
            self._warn("promoted", "the read database is not a standby (promoted?), "
                       "reads go to the primary")
            return StandbyState(False, 0, lag, now)
        if lag > self.max_lag:
            self._warn("lagging", "standby %.1f s behind (limit %.1f s), reads go to the "
                       "primary", lag, self.max_lag)
            return StandbyState(False, parse_lsn(replay) or 0, lag, now)
        if self._warned is not None:
            logger.warning("standby back (%.1f s behind), public reads go to it", lag)
            self._warned = None
        return StandbyState(True, parse_lsn(replay) or 0, lag, now)

    def _warn(self, why: str, message: str, *args: object) -> None:
        """Once per change of state, not once per probe."""
        if self._warned != why:
            logger.warning(message, *args)
            self._warned = why

    def dispose(self) -> None:
        if self.standby is not None:
            self.standby.dispose()
