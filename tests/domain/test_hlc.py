"""The hybrid logical clock, and its guard against laptops with a wrong clock."""

from station.domain.hlc import HLC, Clock

DAY = 24 * 3600 * 1000


def fixed(ms):
    return lambda: ms


def test_ticks_are_strictly_increasing_even_when_the_wall_clock_stands_still():
    clock = Clock("A", now=fixed(1000))
    stamps = [clock.tick() for _ in range(5)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5


def test_a_wall_clock_going_backwards_does_not_break_order():
    times = iter([5000, 4000, 3000])
    clock = Clock("A", now=lambda: next(times))
    a, b, c = clock.tick(), clock.tick(), clock.tick()
    assert a < b < c


def test_observing_a_remote_stamp_moves_local_time_past_it():
    clock = Clock("A", now=fixed(1000))
    assert clock.observe(HLC(5000, 3, "B"))
    assert clock.tick() > HLC(5000, 3, "B")


def test_a_remote_clock_years_ahead_is_not_adopted_and_is_recorded():
    clock = Clock("A", now=fixed(10 * DAY))
    far = HLC(10 * DAY + 5 * 365 * DAY, 0, "WRONGYEAR")
    assert not clock.observe(far)
    assert clock.tick().wall == 10 * DAY
    assert clock.skew_events[0].remote.device == "WRONGYEAR"
    assert clock.skew_events[0].ahead_ms == 5 * 365 * DAY


def test_encoded_stamps_sort_like_stamps():
    stamps = [HLC(1, 2, "B"), HLC(1, 10, "A"), HLC(200, 0, "A"), HLC(1, 2, "A")]
    assert sorted(s.encode() for s in stamps) == [s.encode() for s in sorted(stamps)]
    assert HLC.decode(HLC(12, 3, "V001-ab").encode()) == HLC(12, 3, "V001-ab")
