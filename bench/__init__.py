"""`make bench`: the figures of issue 9, re-runnable by anyone on this machine.

`bench/run.py` runs every benchmark (or `--only NAME`), prints one table and writes
`bench/results/latest.json`. One module per benchmark; each returns `BenchResult`s
(see `bench/results.py`) measured against a reference in the same run, since absolute
times on a shared machine drift.
"""
