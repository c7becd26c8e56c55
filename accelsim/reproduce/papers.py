"""The published figures the reproductions print beside their own: ``papers.yaml`` in this
package (each technique's paper, baseline, conditions and headline results, copied with their
citations; none is a target of any model parameter)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from accelsim.yaml_io import read_yaml_mapping

PAPERS = Path(__file__).with_name("papers.yaml")


@lru_cache(maxsize=1)
def papers() -> dict:
    """Every technique's entry of ``papers.yaml``."""
    return read_yaml_mapping(PAPERS)


def paper(technique: str) -> dict:
    """The entry of one technique: ``paper`` (the citation), ``baseline``, ``results``, ..."""
    return papers()[technique]
