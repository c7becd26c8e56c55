"""Design-space sweeps: a sweep file (a base run spec and axes) expanded into points, run on
dask.distributed, each finished point stored in a resumable SQLite file, and reports from it.

- :mod:`accelsim.sweep.spec`: the sweep file (``grid:`` and ``zip:`` axes over run-spec fields);
- :mod:`accelsim.sweep.points`: expansion into points and each point's key;
- :mod:`accelsim.sweep.store`: the SQLite result store;
- :mod:`accelsim.sweep.worker`: what a Dask worker runs for one point;
- :mod:`accelsim.sweep.execute`: submission, collection and the summary;
- :mod:`accelsim.sweep.report`: the tidy table and the figures of ``accelsim report``.
"""
