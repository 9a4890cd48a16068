"""BusinessCalendar against its contract (DESIGN.md section 3).

The property tests compare the calendar with a brute-force reference written here from the
definition alone: an instant is business time iff its local wall-clock time falls on a
non-holiday date inside one of that weekday's [start, end) intervals. The reference steps
through time in cells (a minute, a quarter of an hour or a second) inside which membership
cannot change, because every interval boundary and every UTC offset switch of the zones used
here falls on a cell boundary.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inquiries.sla.calendar import BusinessCalendar, twenty_four_seven

Hours = dict[int, list[tuple[time, time]]] | None

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
TOKYO = ZoneInfo("Asia/Tokyo")

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "UTC",
    "America/Sao_Paulo",
]
FIRST_DAY = date(2017, 1, 1)
LAST_DAY = date(2027, 12, 31)

WEEKDAYS_9_TO_5 = {weekday: [(time(9), time(17))] for weekday in range(5)}
WHOLE_DAYS = {weekday: [(time(0), time(0))] for weekday in range(7)}

PROPERTY = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _switch_days(zone_name: str) -> list[date]:
    """Local dates around each UTC offset switch of the zone between FIRST_DAY and LAST_DAY."""
    zone = ZoneInfo(zone_name)
    days = []
    day = FIRST_DAY
    while day < LAST_DAY:
        following = day + timedelta(days=1)
        if (
            datetime.combine(day, time(12), zone).utcoffset()
            != datetime.combine(following, time(12), zone).utcoffset()
        ):
            days += [day - timedelta(days=1), day, following]
        day = following
    return days


SWITCH_DAYS = {zone_name: _switch_days(zone_name) for zone_name in ZONES}


# --- the reference ---------------------------------------------------------------------------


def is_business_time(zone: ZoneInfo, hours: Hours, holidays: set[date], instant: datetime) -> bool:
    local = instant.astimezone(zone)
    if local.date() in holidays:
        return False
    if hours is None:
        return True
    clock = local.time()
    return any(
        opens <= clock and (closes == time(0) or clock < closes)
        for opens, closes in hours.get(local.weekday(), [])
    )


def reference_cells(
    zone: ZoneInfo, hours: Hours, holidays: set[date], first: datetime, cells: int, cell_seconds: int
) -> list[bool]:
    """Business-time membership of each cell [first + i * cell_seconds, + cell_seconds), first in UTC."""
    step = timedelta(seconds=cell_seconds)
    return [is_business_time(zone, hours, holidays, first + i * step) for i in range(cells)]


def reference_add(first: datetime, flags: list[bool], cell_seconds: int, seconds: int) -> datetime:
    """Earliest instant with ``seconds`` business seconds after ``first`` (a UTC cell boundary)."""
    if seconds == 0:
        return first
    done = 0
    for i, flag in enumerate(flags):
        if flag:
            if done + cell_seconds >= seconds:
                return first + timedelta(seconds=i * cell_seconds + seconds - done)
            done += cell_seconds
    raise AssertionError("the reference window holds fewer business seconds than asked for")


def utc(moment: datetime) -> datetime:
    """The instant in UTC.

    Arithmetic and comparisons on datetimes sharing a ZoneInfo work on the wall clock and ignore
    ``fold``, so the tests compare and shift instants in UTC only.
    """
    return moment.astimezone(UTC)


def assert_add_contract(calendar: BusinessCalendar, start: datetime, seconds: int, result: datetime) -> None:
    assert result.tzinfo is start.tzinfo
    assert utc(result) >= utc(start)
    assert calendar.elapsed(start, result) == seconds
    if seconds > 0:
        assert calendar.elapsed(start, utc(result) - timedelta(seconds=1)) < seconds


# --- strategies --------------------------------------------------------------------------------


def _clock(day_seconds: int) -> time:
    """Seconds into the day as a time; 86400 is midnight ending the day, written time(0)."""
    hours, rest = divmod(day_seconds % 86_400, 3600)
    return time(hours, *divmod(rest, 60))


@st.composite
def opening_hours(draw: st.DrawFn, grid_seconds: int) -> Hours:
    """Random hours with interval boundaries on a grid; sometimes None (open all the time)."""
    if draw(st.integers(0, 9)) == 0:
        return None
    points = st.integers(0, 86_400 // grid_seconds).map(lambda n: n * grid_seconds)
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday in range(7):
        boundaries = sorted(draw(st.sets(points, max_size=6)))
        pairs = list(zip(boundaries[::2], boundaries[1::2], strict=False))
        if pairs or draw(st.booleans()):
            hours[weekday] = [(_clock(opens), _clock(closes)) for opens, closes in pairs]
    if not any(hours.values()):
        hours[draw(st.integers(0, 6))] = [(time(9), time(17))]
    return hours


def _times(hours: Hours) -> list[time]:
    return [moment for intervals in (hours or {}).values() for pair in intervals for moment in pair]


@st.composite
def scenarios(
    draw: st.DrawFn, grid_seconds: int
) -> tuple[BusinessCalendar, ZoneInfo, Hours, set[date], datetime]:
    """A calendar, its reference description and a start on the grid.

    Starts are often on a DST switch day, and often on or next to an opening or closing time.
    """
    zone_name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(zone_name)
    hours = draw(opening_hours(grid_seconds))
    days = st.dates(FIRST_DAY, LAST_DAY)
    if SWITCH_DAYS[zone_name]:
        days = st.one_of(st.sampled_from(SWITCH_DAYS[zone_name]), days)
    day = draw(days)
    clocks = st.integers(0, 86_400 // grid_seconds - 1).map(lambda n: n * grid_seconds)
    boundaries = sorted({moment.hour * 3600 + moment.minute * 60 + moment.second for moment in _times(hours)})
    if boundaries:
        near = st.tuples(st.sampled_from(boundaries), st.sampled_from([-grid_seconds, 0, grid_seconds]))
        clocks = st.one_of(clocks, near.map(sum))
    clock = _clock(draw(clocks))
    local = datetime.combine(day, clock).replace(tzinfo=zone, fold=draw(st.integers(0, 1)))
    start = local.astimezone(draw(st.sampled_from([zone, UTC, TOKYO])))
    holidays = {day + timedelta(days=offset) for offset in draw(st.lists(st.integers(-2, 10), max_size=4))}
    calendar = BusinessCalendar(zone_name, hours, holidays)
    return calendar, zone, hours, holidays, start


# --- property tests ----------------------------------------------------------------------------


@settings(PROPERTY, max_examples=200)
@given(scenario=scenarios(grid_seconds=60), data=st.data())
def test_elapsed_and_add_match_a_minute_by_minute_reference(
    scenario: tuple[BusinessCalendar, ZoneInfo, Hours, set[date], datetime], data: st.DataObject
) -> None:
    calendar, zone, hours, holidays, start = scenario
    minutes = data.draw(st.integers(1, 4 * 1440), label="window minutes")
    flags = reference_cells(zone, hours, holidays, utc(start), minutes, 60)

    end_minute = data.draw(st.integers(0, minutes), label="end minute")
    end = utc(start) + timedelta(minutes=end_minute)
    assert calendar.elapsed(start, end) == 60 * sum(flags[:end_minute])

    seconds = data.draw(st.integers(0, 60 * sum(flags)), label="seconds")
    result = calendar.add(start, seconds)
    assert utc(result) == reference_add(utc(start), flags, 60, seconds)
    assert_add_contract(calendar, start, seconds, result)

    round_trip = calendar.add(start, calendar.elapsed(start, end))
    assert utc(round_trip) <= end
    assert calendar.elapsed(start, round_trip) == calendar.elapsed(start, end)


@settings(PROPERTY, max_examples=25)
@given(scenario=scenarios(grid_seconds=900), data=st.data())
def test_spans_of_months_match_a_quarter_hour_reference(
    scenario: tuple[BusinessCalendar, ZoneInfo, Hours, set[date], datetime], data: st.DataObject
) -> None:
    calendar, zone, hours, holidays, start = scenario
    quarters = data.draw(st.integers(1, 200 * 96), label="window quarter hours")
    flags = reference_cells(zone, hours, holidays, utc(start), quarters, 900)

    assert calendar.elapsed(start, utc(start) + timedelta(minutes=15 * quarters)) == 900 * sum(flags)
    seconds = data.draw(st.integers(0, 900 * sum(flags)), label="seconds")
    result = calendar.add(start, seconds)
    assert utc(result) == reference_add(utc(start), flags, 900, seconds)
    assert_add_contract(calendar, start, seconds, result)


@settings(PROPERTY, max_examples=100)
@given(scenario=scenarios(grid_seconds=1), data=st.data())
def test_microsecond_instants_match_a_second_by_second_reference(
    scenario: tuple[BusinessCalendar, ZoneInfo, Hours, set[date], datetime], data: st.DataObject
) -> None:
    calendar, zone, hours, holidays, drawn = scenario
    whole_second = utc(drawn)
    start_micro = data.draw(
        st.sampled_from([0, 1, 500_000, 999_999]) | st.integers(0, 999_999), label="start µs"
    )
    start = (whole_second + timedelta(microseconds=start_micro)).astimezone(drawn.tzinfo)
    cells = data.draw(st.integers(1, 3 * 3600), label="window seconds")
    # Cell i is the whole second [whole_second + i, + 1); start sits start_micro into cell 0.
    flags = reference_cells(zone, hours, holidays, whole_second, cells + 1, 1)

    def business_micros(cell: int, micro: int) -> int:
        """Business microseconds from start to whole_second + cell seconds + micro."""
        return 1_000_000 * sum(flags[:cell]) - start_micro * flags[0] + micro * flags[cell]

    end_cell = data.draw(st.integers(0, cells), label="end second")
    end_micro = data.draw(st.integers(0, 999_999), label="end µs")
    end = whole_second + timedelta(seconds=end_cell, microseconds=end_micro)
    expected = max(business_micros(end_cell, end_micro), 0) // 1_000_000
    assert calendar.elapsed(start, end) == expected

    available = business_micros(cells, 0) // 1_000_000
    # Aim at closing times too: landing exactly on one must roll over to the next opening.
    closings = [
        business_micros(cell, 0) // 1_000_000
        for cell in range(1, cells + 1)
        if flags[cell - 1] and not flags[cell]
    ]
    amounts = st.integers(0, available)
    if closings:
        amounts = st.one_of(amounts, st.sampled_from(closings))
    seconds = data.draw(amounts, label="seconds")
    result = calendar.add(start, seconds)
    offset = utc(result) - whole_second
    cell, micro = offset // timedelta(seconds=1), offset.microseconds
    assert business_micros(cell, micro) == 1_000_000 * seconds
    if seconds > 0:
        # Earliest: one microsecond earlier is not enough.
        earlier = offset - timedelta(microseconds=1)
        assert business_micros(earlier // timedelta(seconds=1), earlier.microseconds) < 1_000_000 * seconds
    assert_add_contract(calendar, start, seconds, result)


@settings(PROPERTY, max_examples=100)
@given(
    zone_name=st.sampled_from(ZONES),
    start=st.datetimes(datetime(1990, 1, 1), datetime(2060, 1, 1), timezones=st.just(UTC)),
    seconds=st.integers(0, 3 * 366 * 86_400),
    micro=st.integers(0, 999_999),
)
def test_an_always_open_calendar_counts_every_real_second(
    zone_name: str, start: datetime, seconds: int, micro: int
) -> None:
    calendar = twenty_four_seven(zone_name)
    end = start + timedelta(seconds=seconds, microseconds=micro)
    assert calendar.elapsed(start, end) == seconds
    assert calendar.add(start, seconds) == start + timedelta(seconds=seconds)


@settings(PROPERTY, max_examples=50)
@given(
    scenario=scenarios(grid_seconds=60),
    cuts=st.lists(st.integers(0, 5 * 366 * 86_400), min_size=2, max_size=2),
    data=st.data(),
)
def test_long_spans_split_anywhere_add_up(
    scenario: tuple[BusinessCalendar, ZoneInfo, Hours, set[date], datetime],
    cuts: list[int],
    data: st.DataObject,
) -> None:
    calendar, _zone, _hours, _holidays, start = scenario
    middle, end = (utc(start) + timedelta(seconds=cut) for cut in sorted(cuts))
    assert calendar.elapsed(start, end) == calendar.elapsed(start, middle) + calendar.elapsed(middle, end)

    # Business seconds that fit in about two years, so sparse calendars stay quick.
    budget = max(calendar.elapsed(start, utc(start) + timedelta(days=366)), 2)
    seconds, more = data.draw(st.lists(st.integers(1, budget), min_size=2, max_size=2), label="seconds")
    assert utc(calendar.add(start, seconds + more)) == utc(calendar.add(calendar.add(start, seconds), more))


# --- DST switches --------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [None, WHOLE_DAYS], ids=["24x7", "00:00-24:00"])
@pytest.mark.parametrize(
    ("zone", "day", "hours_long"),
    [
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
        (NEW_YORK, date(2026, 3, 8), 23),
        (NEW_YORK, date(2026, 11, 1), 25),
    ],
    ids=["Berlin spring forward", "Berlin fall back", "New York spring forward", "New York fall back"],
)
def test_a_whole_local_day_lasts_23_or_25_hours_on_switch_days(
    zone: ZoneInfo, day: date, hours_long: int, hours: Hours
) -> None:
    calendar = BusinessCalendar(zone.key, hours)
    midnight = datetime.combine(day, time(0), zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
    assert calendar.elapsed(midnight, next_midnight) == hours_long * 3600
    assert utc(calendar.add(midnight, hours_long * 3600)) == utc(next_midnight)
    assert utc(calendar.add(midnight, 3 * 3600)) == utc(midnight) + timedelta(hours=3)


def test_a_fall_back_day_counts_the_repeated_hour_twice() -> None:
    calendar = BusinessCalendar("Europe/Berlin", {6: [(time(2), time(3))]})
    saturday = datetime(2026, 10, 24, 12, tzinfo=BERLIN)
    monday = datetime(2026, 10, 26, 12, tzinfo=BERLIN)
    assert calendar.elapsed(saturday, monday) == 2 * 3600
    # 02:00-03:00 CEST is 00:00-01:00 UTC, then 02:00-03:00 CET is 01:00-02:00 UTC.
    result = calendar.add(saturday, 90 * 60)
    assert utc(result) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert (result.hour, result.minute, result.fold) == (2, 30, 1)


def test_a_skipped_hour_contributes_nothing() -> None:
    calendar = BusinessCalendar("Europe/Berlin", {6: [(time(2), time(3))]})
    saturday = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
    monday = datetime(2026, 3, 30, 12, tzinfo=BERLIN)
    assert calendar.elapsed(saturday, monday) == 0
    assert utc(calendar.add(saturday, 60)) == datetime(2026, 4, 5, 0, 1, tzinfo=UTC)


def test_an_always_open_calendar_adds_real_hours_across_a_switch() -> None:
    calendar = twenty_four_seven("America/New_York")
    saturday_noon = datetime(2026, 3, 7, 12, tzinfo=NEW_YORK)
    assert utc(calendar.add(saturday_noon, 24 * 3600)) == datetime(2026, 3, 8, 17, tzinfo=UTC)
    assert calendar.elapsed(saturday_noon, datetime(2026, 3, 9, 12, tzinfo=NEW_YORK)) == 47 * 3600


def test_office_hours_resume_at_local_nine_after_the_spring_forward_weekend() -> None:
    calendar = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_5)
    friday_four_pm = datetime(2026, 3, 27, 16, tzinfo=BERLIN)
    assert utc(calendar.add(friday_four_pm, 2 * 3600)) == datetime(2026, 3, 30, 8, tzinfo=UTC)
    friday_nine = datetime(2026, 3, 27, 9, tzinfo=BERLIN)
    assert calendar.elapsed(friday_nine, datetime(2026, 3, 30, 17, tzinfo=BERLIN)) == 16 * 3600


def test_office_hours_resume_at_local_nine_after_the_fall_back_weekend() -> None:
    calendar = BusinessCalendar("America/New_York", WEEKDAYS_9_TO_5)
    friday_four_pm = datetime(2026, 10, 30, 16, tzinfo=NEW_YORK)
    assert utc(calendar.add(friday_four_pm, 2 * 3600)) == datetime(2026, 11, 2, 15, tzinfo=UTC)


def test_a_switch_at_local_midnight_repeats_the_last_hour_of_saturday() -> None:
    # Sao Paulo left DST at midnight: 2019-02-17 00:00 became 2019-02-16 23:00 again.
    calendar = BusinessCalendar("America/Sao_Paulo", {5: [(time(23), time(0))], 6: [(time(0), time(1))]})
    friday = datetime(2019, 2, 15, 12, tzinfo=SAO_PAULO)
    monday = datetime(2019, 2, 18, 12, tzinfo=SAO_PAULO)
    assert calendar.elapsed(friday, monday) == 3 * 3600
    assert utc(calendar.add(friday, 90 * 60)) == datetime(2019, 2, 17, 2, 30, tzinfo=UTC)
    assert utc(calendar.add(friday, 3 * 3600)) == datetime(2019, 2, 17, 4, tzinfo=UTC)


def test_a_switch_at_local_midnight_skips_the_first_hour_of_sunday() -> None:
    # Sao Paulo entered DST at midnight: 2018-11-04 began at 01:00.
    calendar = BusinessCalendar("America/Sao_Paulo", {6: [(time(0), time(2))]})
    saturday = datetime(2018, 11, 3, 12, tzinfo=SAO_PAULO)
    assert calendar.elapsed(saturday, datetime(2018, 11, 5, tzinfo=SAO_PAULO)) == 3600
    assert utc(calendar.add(saturday, 1800)) == datetime(2018, 11, 4, 3, 30, tzinfo=UTC)


# --- odd zones ---------------------------------------------------------------------------------


def test_kathmandu_hours_follow_its_quarter_hour_offset() -> None:
    calendar = BusinessCalendar("Asia/Kathmandu", WEEKDAYS_9_TO_5)
    monday_nine = datetime(2026, 3, 2, 3, 15, tzinfo=UTC)
    assert (
        calendar.elapsed(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, 12, tzinfo=UTC)) == 8 * 3600
    )
    assert calendar.add(datetime(2026, 3, 2, tzinfo=UTC), 3600) == monday_nine + timedelta(hours=1)
    assert utc(calendar.add(monday_nine, 8 * 3600 + 1)) == utc(
        datetime(2026, 3, 3, 9, 0, 1, tzinfo=KATHMANDU)
    )


@pytest.mark.parametrize(
    ("day", "minutes_long"),
    [(date(2026, 4, 5), 24 * 60 + 30), (date(2026, 10, 4), 24 * 60 - 30)],
    ids=["half-hour fall back", "half-hour spring forward"],
)
def test_lord_howe_switch_days_gain_or_lose_half_an_hour(day: date, minutes_long: int) -> None:
    calendar = BusinessCalendar("Australia/Lord_Howe", WHOLE_DAYS)
    midnight = datetime.combine(day, time(0), LORD_HOWE)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), LORD_HOWE)
    assert calendar.elapsed(midnight, next_midnight) == minutes_long * 60


def test_lord_howe_counts_its_repeated_half_hour_twice() -> None:
    calendar = BusinessCalendar("Australia/Lord_Howe", {6: [(time(1, 30), time(2))]})
    saturday = datetime(2026, 4, 4, tzinfo=LORD_HOWE)
    monday = datetime(2026, 4, 6, tzinfo=LORD_HOWE)
    assert calendar.elapsed(saturday, monday) == 3600
    # 01:30-02:00 at +11:00 (14:30-15:00 UTC), then again at +10:30 (15:00-15:30 UTC).
    assert utc(calendar.add(saturday, 2700)) == datetime(2026, 4, 4, 15, 15, tzinfo=UTC)


# --- hours, holidays, precision ----------------------------------------------------------------


def test_holidays_are_closed_all_day() -> None:
    easter = [date(2026, 4, 3), date(2026, 4, 6)]
    calendar = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_5, holidays=easter)
    thursday_four_pm = datetime(2026, 4, 2, 16, tzinfo=BERLIN)
    assert calendar.add(thursday_four_pm, 2 * 3600) == datetime(2026, 4, 7, 10, tzinfo=BERLIN)
    assert calendar.elapsed(thursday_four_pm, datetime(2026, 4, 8, 9, tzinfo=BERLIN)) == 9 * 3600


def test_holidays_close_an_always_open_calendar_too() -> None:
    calendar = BusinessCalendar("UTC", holidays=[date(2026, 12, 25)])
    christmas_eve = datetime(2026, 12, 24, 12, tzinfo=UTC)
    assert calendar.add(christmas_eve, 13 * 3600) == datetime(2026, 12, 26, 1, tzinfo=UTC)


def test_an_interval_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    calendar = BusinessCalendar("Europe/Berlin", {4: [(time(18), time(0))], 5: [(time(0), time(2))]})
    friday_eleven_pm = datetime(2026, 5, 8, 23, tzinfo=BERLIN)
    assert calendar.add(friday_eleven_pm, 2 * 3600) == datetime(2026, 5, 9, 1, tzinfo=BERLIN)
    assert (
        calendar.elapsed(datetime(2026, 5, 8, 12, tzinfo=BERLIN), datetime(2026, 5, 9, 12, tzinfo=BERLIN))
        == 8 * 3600
    )


def test_several_intervals_a_day_leave_the_lunch_break_out() -> None:
    calendar = BusinessCalendar("Europe/Berlin", {0: [(time(13), time(17)), (time(9), time(12))]})
    monday_eleven = datetime(2026, 5, 4, 11, tzinfo=BERLIN)
    assert calendar.add(monday_eleven, 2 * 3600) == datetime(2026, 5, 4, 14, tzinfo=BERLIN)
    assert (
        calendar.elapsed(datetime(2026, 5, 4, tzinfo=BERLIN), datetime(2026, 5, 5, tzinfo=BERLIN)) == 7 * 3600
    )


def test_touching_intervals_behave_as_one() -> None:
    split = BusinessCalendar("UTC", {0: [(time(9), time(12)), (time(12), time(17))]})
    whole = BusinessCalendar("UTC", {0: [(time(9), time(17))]})
    start = datetime(2026, 5, 4, 10, tzinfo=UTC)
    assert split.add(start, 4 * 3600) == whole.add(start, 4 * 3600) == datetime(2026, 5, 4, 14, tzinfo=UTC)


def test_zero_seconds_returns_start_even_outside_business_hours() -> None:
    calendar = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_5)
    sunday_night = datetime(2026, 5, 3, 23, 59, 59, 123456, tzinfo=BERLIN)
    assert calendar.add(sunday_night, 0) is sunday_night


def test_the_result_keeps_the_tzinfo_of_start() -> None:
    calendar = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_5)
    start = datetime(2026, 5, 4, 7, tzinfo=UTC)
    result = calendar.add(start, 3600)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 5, 4, 8, tzinfo=UTC)
    assert calendar.add(start.astimezone(TOKYO), 3600).tzinfo is TOKYO


def test_elapsed_rounds_down_to_whole_seconds() -> None:
    calendar = twenty_four_seven()
    start = datetime(2026, 5, 4, 9, 0, 0, 900_000, tzinfo=UTC)
    assert calendar.elapsed(start, start + timedelta(microseconds=999_999)) == 0
    assert calendar.elapsed(start, start + timedelta(seconds=1, microseconds=500_000)) == 1


def test_add_keeps_microseconds_inside_hours_and_starts_on_the_opening_second_outside() -> None:
    calendar = BusinessCalendar("UTC", WEEKDAYS_9_TO_5)
    inside = datetime(2026, 5, 4, 16, 59, 59, 250_000, tzinfo=UTC)
    assert calendar.add(inside, 1) == datetime(2026, 5, 5, 9, 0, 0, 250_000, tzinfo=UTC)
    just_after_opening = datetime(2026, 5, 4, 9, 0, 0, 250_000, tzinfo=UTC)
    assert calendar.add(just_after_opening, 1) == datetime(2026, 5, 4, 9, 0, 1, 250_000, tzinfo=UTC)
    assert calendar.elapsed(just_after_opening, datetime(2026, 5, 4, 9, 0, 2, tzinfo=UTC)) == 1
    before_opening = datetime(2026, 5, 4, 8, 59, 59, 250_000, tzinfo=UTC)
    assert calendar.add(before_opening, 1) == datetime(2026, 5, 4, 9, 0, 1, tzinfo=UTC)


def test_elapsed_is_zero_when_end_is_not_after_start() -> None:
    calendar = twenty_four_seven()
    start = datetime(2026, 5, 4, 9, tzinfo=UTC)
    assert calendar.elapsed(start, start) == 0
    assert calendar.elapsed(start, start - timedelta(days=3)) == 0


def test_a_year_of_office_hours_is_skipped_to_the_exact_second() -> None:
    calendar = BusinessCalendar("Europe/Berlin", WEEKDAYS_9_TO_5)
    start = datetime(2026, 1, 5, 9, tzinfo=BERLIN)
    weeks = 52 * 5 * 8 * 3600
    assert calendar.add(start, weeks) == datetime(2027, 1, 1, 17, tzinfo=BERLIN)
    assert calendar.add(start, weeks + 1) == datetime(2027, 1, 4, 9, 0, 1, tzinfo=BERLIN)
    assert calendar.elapsed(start, datetime(2027, 1, 4, 9, tzinfo=BERLIN)) == weeks


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [{}, {0: [], 6: []}], ids=["no weekdays", "empty weekdays"])
def test_a_calendar_that_is_never_open_is_rejected(hours: Hours) -> None:
    with pytest.raises(ValueError, match="never open"):
        BusinessCalendar("UTC", hours)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (
            {0: [(time(9), time(13)), (time(12), time(17))]},
            "Monday: intervals 09:00-13:00 and 12:00-17:00 overlap",
        ),
        (
            {2: [(time(23), time(0)), (time(9), time(0))]},
            "Wednesday: intervals 09:00-24:00 and 23:00-24:00 overlap",
        ),
        ({1: [(time(17), time(9))]}, "Tuesday: interval 17:00-09:00 must start before it ends"),
        ({1: [(time(9), time(9))]}, "Tuesday: interval 09:00-09:00 must start before it ends"),
        ({7: [(time(9), time(17))]}, "weekday must be an integer from 0 .Monday. to 6 .Sunday., got 7"),
        ({-1: [(time(9), time(17))]}, "got -1"),
        ({"0": [(time(9), time(17))]}, "got '0'"),
        ({0: [(time(9),)]}, "pair of times"),
        ({0: [(time(9), time(17, 0, 0, 5))]}, "whole seconds"),
        ({0: [(time(9, tzinfo=UTC), time(17))]}, "without a time zone"),
    ],
)
def test_invalid_hours_are_rejected_with_a_message_for_the_admin(hours: Hours, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar("UTC", hours)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_an_unknown_time_zone_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        BusinessCalendar(name)


def test_naive_datetimes_are_rejected() -> None:
    calendar = twenty_four_seven()
    naive = datetime(2026, 5, 4, 9)
    aware = datetime(2026, 5, 4, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        calendar.add(naive, 0)
    with pytest.raises(ValueError, match="aware"):
        calendar.elapsed(naive, aware)
    with pytest.raises(ValueError, match="aware"):
        calendar.elapsed(aware, naive)


def test_negative_seconds_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        twenty_four_seven().add(datetime(2026, 5, 4, 9, tzinfo=UTC), -1)


def test_a_result_past_the_end_of_the_datetime_range_raises_overflow_error() -> None:
    with pytest.raises(OverflowError):
        twenty_four_seven().add(datetime(9999, 12, 31, 22, tzinfo=UTC), 7200)
