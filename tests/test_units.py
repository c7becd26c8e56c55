"""Quantity strings parse to the right numbers, and bad ones are refused."""

from __future__ import annotations

import pytest

from accelsim.units import (UnitError, parse_bandwidth, parse_duration, parse_frequency,
                            parse_size)


@pytest.mark.parametrize("text,value", [("64KiB", 65536), ("24MiB", 24 * 2**20),
                                        ("1GB", 10**9), ("512B", 512), (4096, 4096),
                                        ("1.5KiB", 1536)])
def test_sizes(text, value):
    """IEC prefixes are powers of 1024, SI prefixes powers of 1000."""
    assert parse_size(text) == value


def test_frequency():
    """GHz and MHz scale to hertz."""
    assert parse_frequency("1GHz") == 1e9
    assert parse_frequency("700MHz") == 7e8


def test_bandwidth_per_cycle_and_per_second():
    """B/s bandwidths divide by the clock; B/cycle ones do not."""
    assert parse_bandwidth("64B/cycle").bytes_per_cycle(1e9) == 64
    assert parse_bandwidth("256GB/s").bytes_per_cycle(1e9) == 256
    assert parse_bandwidth("12.8GB/s").bytes_per_cycle(500e6) == pytest.approx(25.6)


def test_duration():
    """Nanoseconds scale by the clock; cycles do not."""
    assert parse_duration("100ns").cycles(1e9) == pytest.approx(100)
    assert parse_duration("100ns").cycles(700e6) == pytest.approx(70)
    assert parse_duration("20cycles").cycles(1e9) == 20


@pytest.mark.parametrize("parser,text", [(parse_size, "64 kilobytes"), (parse_size, "1.5B"),
                                         (parse_frequency, "fast"), (parse_bandwidth, "10GB"),
                                         (parse_duration, "-3ns")])
def test_bad_quantities(parser, text):
    """Malformed or meaningless quantities raise UnitError."""
    with pytest.raises(UnitError):
        parser(text)


def message(parser, value) -> str:
    with pytest.raises(UnitError) as caught:
        parser(value)
    return str(caught.value)


def test_bare_numbers_where_their_unit_is_known():
    """A bare number is bytes for a size and hertz for a frequency (so --set clock=1e9 is
    1 GHz); a bandwidth or a duration needs its unit: per cycle and per second differ by the
    clock."""
    assert parse_size(4096) == 4096 and parse_size(4096.0) == 4096
    assert parse_frequency(1e9) == 1e9 and parse_frequency(700_000_000) == 7e8
    assert message(parse_bandwidth, 100) == ("a bandwidth such as '64B/cycle' or '256GB/s', "
                                             "with its unit (a bare number could be per cycle "
                                             "or per second)")
    assert message(parse_duration, 0) == ("a duration such as '100ns' or '20cycles', with its "
                                          "unit (a bare number could be cycles or seconds)")


@pytest.mark.parametrize("parser, value, expected", [
    (parse_size, float("nan"), "a finite size (the number is NaN)"),
    (parse_size, float("inf"), "a finite size (the number is infinite or beyond 1.8e308)"),
    (parse_size, "1e999GB", "a finite size (the number is infinite or beyond 1.8e308)"),
    pytest.param(parse_size, 2**2000, "a finite size (the number is infinite or beyond "
                 "1.8e308)", id="size-2**2000"),
    (parse_frequency, float("nan"), "a finite frequency (the number is NaN)"),
    (parse_frequency, "1e309GHz", "a finite frequency (the number is infinite or beyond "
     "1.8e308)"),
    (parse_bandwidth, float("-inf"), "a finite bandwidth (the number is infinite or beyond "
     "1.8e308)"),
    (parse_bandwidth, "1e999B/cycle", "a finite bandwidth (the number is infinite or beyond "
     "1.8e308)"),
    (parse_duration, float("nan"), "a finite duration (the number is NaN)"),
    (parse_duration, "1e400ns", "a finite duration (the number is infinite or beyond "
     "1.8e308)"),
])
def test_non_finite_refused_with_the_reason(parser, value, expected):
    """NaN, infinity and numbers beyond a 64-bit float (1.8e308) are refused as not finite."""
    assert message(parser, value) == expected


@pytest.mark.parametrize("parser, inside, outside, expected", [
    (parse_size, "1024TiB", "1025TiB", "a size of at most 1 PiB (2^50 bytes)"),
    (parse_size, 2**50, 2**50 + 1, "a size of at most 1 PiB (2^50 bytes)"),
    (parse_frequency, "1kHz", "999Hz", "a frequency from 1 kHz to 100 GHz"),
    (parse_frequency, "100GHz", "101GHz", "a frequency from 1 kHz to 100 GHz"),
    (parse_bandwidth, "0.001B/cycle", "0.0009B/cycle", "a bandwidth from 0.001 to 1e6 B/cycle"),
    (parse_bandwidth, "1e6B/cycle", "1.1e6B/cycle", "a bandwidth from 0.001 to 1e6 B/cycle"),
    (parse_bandwidth, "1B/s", "0.5B/s", "a bandwidth from 1 B/s to 1e15 B/s"),
    (parse_bandwidth, "1000TB/s", "1001TB/s", "a bandwidth from 1 B/s to 1e15 B/s"),
    (parse_duration, "1s", "1001ms", "a duration of at most 1 s"),
    (parse_duration, "1e9cycles", "1000000001cycles", "a duration of at most 1e9 cycles"),
])
def test_bounds(parser, inside, outside, expected):
    """Each bound is inclusive and stated in the message of a value just beyond it."""
    parser(inside)
    assert message(parser, outside) == expected


def test_long_quantity_string_refused_before_matching():
    """A quantity string over 64 characters is refused (a 16 MiB string of digits would make
    the pattern backtrack for hours)."""
    assert message(parse_size, "1" * 65 + "B") == ("a size such as '64KiB', '24MiB' or '1GB' "
                                                   "(at most 64 characters)")
    assert parse_size("1" * 10 + "B") == 1111111111


def test_booleans_and_lists_are_not_quantities():
    """true is not 1 byte and a list is not a size: both get the form a quantity has."""
    assert message(parse_size, True) == "a size such as '64KiB', '24MiB' or '1GB'"
    assert message(parse_bandwidth, ["64B/cycle"]) == ("a bandwidth such as '64B/cycle' or "
                                                       "'256GB/s'")
