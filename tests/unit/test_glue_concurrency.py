"""Overlapping runs of a Glue domain wait instead of failing: Glue queues them (job run queuing,
tests/infra/test_contracts.py) and a step's timeout covers one run ahead (stacks/specs.py), so a
backfill runs a Glue domain's partitions one at a time whatever --parallel says."""

from __future__ import annotations

from finlake.ops.backfill import bounded_parallelism
from stacks.specs import BANK, BNDES, CARDS, GLUE_RUNS_AHEAD, STOCKS


def test_a_glue_domain_backfills_one_partition_at_a_time() -> None:
    assert STOCKS.parallel_runs == CARDS.parallel_runs == 1
    assert bounded_parallelism(STOCKS, 4) == bounded_parallelism(CARDS, 8) == 1
    assert STOCKS.parallel_runs <= GLUE_RUNS_AHEAD  # the one run it may queue behind: a schedule or a trigger


def test_a_lambda_only_domain_keeps_the_requested_parallelism() -> None:
    assert BNDES.parallel_runs is None and BANK.parallel_runs is None
    assert bounded_parallelism(BNDES, 4) == 4
    assert bounded_parallelism(BANK, 0) == 1
