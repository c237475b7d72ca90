"""Operating the deployed stacks: `finlake --aws ...`.

The CLI only wires these modules. Each function takes the boto3 clients it needs (tests hand in
clients bound to moto), so nothing here creates a session behind the caller's back except
`finlake.ops.discovery.connect`.

- `discovery`: find the state machines, queue and buckets from the CloudFormation outputs.
- `executions`: start (or attach to) an execution with the deterministic name and follow it.
- `backfill`: the partitions of a range, one execution each, skipping those already done.
- `redrive`: the dead-letter queue, and rerunning what it holds.
- `history`: recent executions per domain.
"""
