"""Reproductions of the five techniques' papers on one engine (``accelsim reproduce``).

One module per technique (:mod:`.ant`, :mod:`.acrtc`, :mod:`.daa`, :mod:`.mquans`,
:mod:`.confidence_skip`), each with ``parser()`` (its options) and ``reproduce(args, emit)``
(runs, writes its CSV and figure, emits its report line by line, returns an
:class:`~accelsim.reproduce.common.Outcome`); :mod:`.common` (runs, comparisons, tables,
charts), :mod:`.papers` (the published figures, ``papers.yaml``), :mod:`.accuracy` (measured
accuracy differences), :mod:`.summary` (the one table, the stacks, the figure) and
:mod:`.command` (the command line and the scripts' entry point).
"""
