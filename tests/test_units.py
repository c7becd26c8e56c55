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
