"""Quantities written as strings in configs: sizes, frequencies, bandwidths and durations.

Accepted forms (case-sensitive prefixes, SI = powers of 1000, IEC = powers of 1024):

* size: ``"64KiB"``, ``"24MiB"``, ``"1GB"``, ``"512B"``, or a bare whole number of bytes
  (``4096``); from 0 to 2^50 bytes (1 PiB: thousands of times the few hundred GB of HBM
  attached to the largest accelerators);
* frequency: ``"1GHz"``, ``"940MHz"``, or a bare number of hertz (``1e9``); from 1 kHz to
  100 GHz (clocks of real accelerators lie between 100 MHz and 3 GHz);
* bandwidth: ``"64B/cycle"`` (bytes per clock cycle) or ``"256GB/s"`` / ``"1.6TB/s"`` (bytes
  per second), always with its unit: a bare number is refused, since per cycle and per second
  differ by the clock (``--set dram.bandwidth=100`` once meant 100 B/cycle silently); from
  0.001 to 1e6 B/cycle, and from 1 B/s to 1e15 B/s (1 PB/s, about 800x an HBM3E stack's
  1.2 TB/s); the hwconfig also requires every bandwidth to be at least 0.001 B/cycle at its
  clock;
* duration: ``"100ns"``, ``"1us"`` (seconds) or ``"20cycle"`` / ``"20cycles"``, always with
  its unit (cycles and nanoseconds are both plausible for a bare number); at most 1 s or 1e9
  cycles (DRAM and link latencies are below a microsecond).

Every number must be finite: NaN, infinity and numbers beyond a 64-bit float (``'1e999GB'``)
are refused with the reason, and so is a quantity string longer than 64 characters. A
:class:`UnitError` message is what the value was expected to be (the validation translator adds
the key path and the value found).

Bandwidths and durations may be given per cycle or per second; :class:`Bandwidth` and
:class:`Duration` keep the unit and convert once the clock is known.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SI = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_IEC = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}

#: Largest size, in bytes.
MAX_BYTES = 2**50
#: Clock range, in hertz.
MIN_HZ, MAX_HZ = 1e3, 100e9
#: Bandwidth range per cycle, and per second.
MIN_BYTES_PER_CYCLE, MAX_BYTES_PER_CYCLE = 1e-3, 1e6
MIN_BYTES_PER_SECOND, MAX_BYTES_PER_SECOND = 1.0, 1e15
#: Longest duration, in seconds and in cycles.
MAX_SECONDS, MAX_CYCLES = 1.0, 1e9
#: Longest quantity string (a longer one is refused before it is matched).
MAX_TEXT = 64

_NUMBER = r"(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
_SIZE_RE = re.compile(_NUMBER + r"(?P<prefix>Ki|Mi|Gi|Ti|k|K|M|G|T)?B$")
_FREQ_RE = re.compile(_NUMBER + r"(?P<prefix>k|K|M|G|T)?Hz$")
_BW_CYCLE_RE = re.compile(_NUMBER + r"B/cycle$")
_BW_SEC_RE = re.compile(_NUMBER + r"(?P<prefix>Ki|Mi|Gi|Ti|k|K|M|G|T)?B/s$")
_TIME_RE = re.compile(_NUMBER + r"(?P<unit>s|ms|us|ns|ps)$")
_CYCLES_RE = re.compile(_NUMBER + r"cycles?$")


class UnitError(ValueError):
    """A quantity that does not parse or is out of range; the message says what is valid."""


def _bare_number(value: object) -> float | None:
    """``value`` as a float when it is a bare number (not a bool); an integer too large for a
    float becomes infinity (refused by the range check with the reason)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and abs(value) > 2**1000:
        return math.inf if value > 0 else -math.inf
    return float(value)


def _text(value: object, example: str) -> str:
    """``value`` as a quantity string, or the error saying what the quantity looks like."""
    if not isinstance(value, str):
        raise UnitError(example)
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise UnitError(f"{example} (at most {MAX_TEXT} characters)")
    return text


def _finite(number: float, what: str) -> float:
    if math.isnan(number):
        raise UnitError(f"a finite {what} (the number is NaN)")
    if math.isinf(number):
        raise UnitError(f"a finite {what} (the number is infinite or beyond 1.8e308)")
    return number


def _prefix(prefix: str | None) -> float:
    if not prefix:
        return 1.0
    return float(_IEC.get(prefix) or _SI[prefix])


def parse_size(value: object) -> int:
    """Bytes in ``value`` (``"64KiB"`` -> 65536; a bare whole number is bytes)."""
    example = "a size such as '64KiB', '24MiB' or '1GB'"
    number = _bare_number(value)
    if number is None:
        match = _SIZE_RE.fullmatch(_text(value, example))
        if not match:
            raise UnitError(example)
        number = float(match["num"]) * _prefix(match["prefix"])
    _finite(number, "size")
    if number < 0 or number != int(number):
        raise UnitError("a whole, non-negative number of bytes")
    if number > MAX_BYTES:
        raise UnitError("a size of at most 1 PiB (2^50 bytes)")
    return int(number)


def parse_frequency(value: object) -> float:
    """Hertz in ``value`` (``"1GHz"`` -> 1e9; a bare number is hertz)."""
    example = "a frequency such as '1GHz' or '940MHz'"
    number = _bare_number(value)
    if number is None:
        match = _FREQ_RE.fullmatch(_text(value, example))
        if not match:
            raise UnitError(example)
        number = float(match["num"]) * _prefix(match["prefix"])
    _finite(number, "frequency")
    if not MIN_HZ <= number <= MAX_HZ:
        raise UnitError("a frequency from 1 kHz to 100 GHz")
    return number


@dataclass(frozen=True)
class Bandwidth:
    """A data rate, kept in the unit it was written in until the clock is known."""

    value: float
    per_cycle: bool

    def bytes_per_cycle(self, clock_hz: float) -> float:
        """Bytes per cycle at ``clock_hz``, rounded to 1e-9 byte (no float noise)."""
        return self.value if self.per_cycle else round(self.value / clock_hz, 9)

    def __str__(self) -> str:
        return f"{self.value:g}B/cycle" if self.per_cycle else f"{self.value / 1e9:g}GB/s"

    def text(self) -> str:
        """The rate as a string that parses back to exactly the same value."""
        return f"{self.value!r}B/cycle" if self.per_cycle else f"{self.value!r}B/s"


def parse_bandwidth(value: object) -> Bandwidth:
    """A :class:`Bandwidth` from ``"64B/cycle"`` or ``"256GB/s"`` (the unit is required)."""
    if isinstance(value, Bandwidth):
        return value
    example = "a bandwidth such as '64B/cycle' or '256GB/s'"
    if (number := _bare_number(value)) is not None:
        _finite(number, "bandwidth")
        raise UnitError(f"{example}, with its unit (a bare number could be per cycle or per "
                        "second)")
    text = _text(value, example)
    if match := _BW_CYCLE_RE.fullmatch(text):
        result = Bandwidth(_finite(float(match["num"]), "bandwidth"), per_cycle=True)
        low, high, span = MIN_BYTES_PER_CYCLE, MAX_BYTES_PER_CYCLE, "0.001 to 1e6 B/cycle"
    elif match := _BW_SEC_RE.fullmatch(text):
        number = _finite(float(match["num"]) * _prefix(match["prefix"]), "bandwidth")
        result = Bandwidth(number, per_cycle=False)
        low, high, span = MIN_BYTES_PER_SECOND, MAX_BYTES_PER_SECOND, "1 B/s to 1e15 B/s"
    else:
        raise UnitError(example)
    if not low <= result.value <= high:
        raise UnitError(f"a bandwidth from {span}")
    return result


@dataclass(frozen=True)
class Duration:
    """A time, kept in cycles or seconds until the clock is known."""

    value: float
    in_cycles: bool

    def cycles(self, clock_hz: float) -> float:
        """Cycles at ``clock_hz``, rounded to 1e-6 cycle so that 100ns at 1GHz is 100."""
        return self.value if self.in_cycles else round(self.value * clock_hz, 6)

    def __str__(self) -> str:
        return f"{self.value:g}cycles" if self.in_cycles else f"{self.value * 1e9:g}ns"

    def text(self) -> str:
        """The time as a string that parses back to exactly the same value."""
        return f"{self.value!r}cycles" if self.in_cycles else f"{self.value!r}s"


def parse_duration(value: object) -> Duration:
    """A :class:`Duration` from ``"100ns"`` or ``"20cycles"`` (the unit is required)."""
    if isinstance(value, Duration):
        return value
    example = "a duration such as '100ns' or '20cycles'"
    if (number := _bare_number(value)) is not None:
        _finite(number, "duration")
        raise UnitError(f"{example}, with its unit (a bare number could be cycles or "
                        "seconds)")
    text = _text(value, example)
    if match := _CYCLES_RE.fullmatch(text):
        result = Duration(_finite(float(match["num"]), "duration"), in_cycles=True)
        high, unit = MAX_CYCLES, "1e9 cycles"
    elif match := _TIME_RE.fullmatch(text):
        number = _finite(float(match["num"]) * _TIME[match["unit"]], "duration")
        result = Duration(number, in_cycles=False)
        high, unit = MAX_SECONDS, "1 s"
    else:
        raise UnitError(example)
    if result.value > high:
        raise UnitError(f"a duration of at most {unit}")
    return result
