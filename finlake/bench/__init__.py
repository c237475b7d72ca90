"""`make bench`: each benchmark section measured with a baseline from the same run, written to BENCHMARKS.md.

One module per section, each runnable alone (it prints its Markdown section):

- ``python -m finlake.bench``: every section, rewrites BENCHMARKS.md (what `make bench` runs).
- ``python -m finlake.bench.bndes``: the BNDES CSV parser against pandas, a whole local bndes run.
- ``python -m finlake.bench.cotahist [records]``: the COTAHIST parser against other readers.
- ``python -m finlake.bench.stocks [records]``: the stocks Glue transform on local Spark.
- ``python -m finlake.bench.cards [--sizes N,M] [--months N]``: the cards book, Spark against DuckDB.
- ``python -m finlake.bench.ops``: handler cold imports (JSON); its end-to-end section runs in `make bench`.

`finlake.bench.kit` holds the timing helper they share.
"""
