"""The README's Python example runs as written, from the repository's root."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_python_api_example_runs():
    """The first ```python block of the README runs in a fresh interpreter from the
    repository's root and prints the figures it promises (cycles, energy, the share of RCPs
    ANT anticipated and its comparators' energy)."""
    (example, *_) = python_blocks((ROOT / "README.md").read_text())
    done = subprocess.run([sys.executable, "-c", example], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"[\d,]+ cycles, [\d,.]+ uJ", lines[0])
    assert re.fullmatch(r"RCPs anticipated: \d+\.\d%", lines[1])
    assert lines[2].startswith("ANT comparators: {'comparators': ")
