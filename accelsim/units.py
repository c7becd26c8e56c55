"""Quantities written as strings in configs: sizes, frequencies, bandwidths and durations.

Accepted forms (case-sensitive prefixes, SI = powers of 1000, IEC = powers of 1024):

* size: ``"64KiB"``, ``"24MiB"``, ``"1GB"``, ``"512B"`` or a bare integer (bytes)
* frequency: ``"1GHz"``, ``"940MHz"`` or a bare number (Hz)
* bandwidth: ``"64B/cycle"`` (bytes per clock cycle) or ``"256GB/s"`` / ``"1.6TB/s"`` (bytes per
  second); a bare number means bytes per cycle
* duration: ``"100ns"``, ``"1us"`` (seconds) or ``"20cycle"`` / ``"20cycles"``; a bare number
  means cycles

Bandwidths and durations may be given per cycle or per second; :class:`Bandwidth` and
:class:`Duration` keep the unit and convert once the clock is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SI = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_IEC = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}

_NUMBER = r"(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
_SIZE_RE = re.compile(_NUMBER + r"(?P<prefix>Ki|Mi|Gi|Ti|k|K|M|G|T)?B$")
_FREQ_RE = re.compile(_NUMBER + r"(?P<prefix>k|K|M|G|T)?Hz$")
_BW_CYCLE_RE = re.compile(_NUMBER + r"B/cycle$")
_BW_SEC_RE = re.compile(_NUMBER + r"(?P<prefix>Ki|Mi|Gi|Ti|k|K|M|G|T)?B/s$")
_TIME_RE = re.compile(_NUMBER + r"(?P<unit>s|ms|us|ns|ps)$")
_CYCLES_RE = re.compile(_NUMBER + r"cycles?$")


class UnitError(ValueError):
    """A quantity string that does not parse; the message says which forms are valid."""


def _bare_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _prefix(prefix: str | None) -> float:
    if not prefix:
        return 1.0
    return float(_IEC.get(prefix) or _SI[prefix])


def parse_size(value: object) -> int:
    """Bytes in ``value`` (``"64KiB"`` -> 65536)."""
    number = _bare_number(value)
    if number is None:
        match = _SIZE_RE.fullmatch(str(value).strip())
        if not match:
            raise UnitError("a size such as '64KiB', '24MiB' or '1GB'")
        number = float(match["num"]) * _prefix(match["prefix"])
    if number < 0 or number != int(number):
        raise UnitError("a whole, non-negative number of bytes")
    return int(number)


def parse_frequency(value: object) -> float:
    """Hertz in ``value`` (``"1GHz"`` -> 1e9)."""
    number = _bare_number(value)
    if number is None:
        match = _FREQ_RE.fullmatch(str(value).strip())
        if not match:
            raise UnitError("a frequency such as '1GHz' or '940MHz'")
        number = float(match["num"]) * _prefix(match["prefix"])
    if number <= 0:
        raise UnitError("a positive frequency")
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
    """A :class:`Bandwidth` from ``"64B/cycle"`` or ``"256GB/s"``."""
    if isinstance(value, Bandwidth):
        return value
    number = _bare_number(value)
    if number is not None:
        result = Bandwidth(number, per_cycle=True)
    else:
        text = str(value).strip()
        if match := _BW_CYCLE_RE.fullmatch(text):
            result = Bandwidth(float(match["num"]), per_cycle=True)
        elif match := _BW_SEC_RE.fullmatch(text):
            result = Bandwidth(float(match["num"]) * _prefix(match["prefix"]), per_cycle=False)
        else:
            raise UnitError("a bandwidth such as '64B/cycle' or '256GB/s'")
    if result.value <= 0:
        raise UnitError("a positive bandwidth")
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
    """A :class:`Duration` from ``"100ns"`` or ``"20cycles"``."""
    if isinstance(value, Duration):
        return value
    number = _bare_number(value)
    if number is not None:
        result = Duration(number, in_cycles=True)
    else:
        text = str(value).strip()
        if match := _CYCLES_RE.fullmatch(text):
            result = Duration(float(match["num"]), in_cycles=True)
        elif match := _TIME_RE.fullmatch(text):
            result = Duration(float(match["num"]) * _TIME[match["unit"]], in_cycles=False)
        else:
            raise UnitError("a duration such as '100ns' or '20cycles'")
    if result.value < 0:
        raise UnitError("a non-negative duration")
    return result
