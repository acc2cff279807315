"""The station's clock reads China's time, whatever zone the computer is set to.

Every date the records hold — received, promised, closed, contacted, rated, the date in a
receipt number — and every month the figures count is a date in China (DESIGN §1: the
station's local dates). Laptops and servers are often left on UTC (a fresh Linux install, a
container): read in the computer's zone, a case closed at 07:30 in Beijing on the 1st would
be dated the last day of the month before, and counted in that month's figures. China keeps
one zone, UTC+8, with no daylight saving since 1991, so a fixed offset is exact and needs no
time-zone database (Windows has none).
"""

from __future__ import annotations

import datetime as dt

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def china_now() -> dt.datetime:
    """Now, in China's time."""
    return dt.datetime.now(CHINA)


def china_wall(moment: dt.datetime) -> dt.datetime:
    """A moment as China's wall clock reads it, without a zone, as record times are stored
    (``2026-11-23T14:30``); a time with no zone is taken as that already."""
    return moment.astimezone(CHINA).replace(tzinfo=None) if moment.tzinfo else moment


def china_day(epoch_ms: int) -> dt.date:
    """The date in China at ``epoch_ms`` (milliseconds since 1970, as the clocks give)."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, CHINA).date()


def china_time(stamp: str | int, tz: dt.tzinfo = CHINA) -> str:
    """A moment as a person reads it, ``YYYY-MM-DD HH:MM`` in China's time: an HLC string
    (``1764000000000.0001.DEVICE``), wall milliseconds, or an ISO time with its offset (when
    a sync ended). Anything else is given back as it is, never a crash over a display."""
    try:
        wall = int(str(stamp).split(".", 1)[0])
        moment = dt.datetime.fromtimestamp(wall / 1000, tz=tz)
    except (ValueError, OverflowError, OSError):
        try:
            moment = dt.datetime.fromisoformat(str(stamp))
        except ValueError:
            return str(stamp)
        moment = moment.replace(tzinfo=moment.tzinfo or tz).astimezone(tz)
    return moment.strftime("%Y-%m-%d %H:%M")
