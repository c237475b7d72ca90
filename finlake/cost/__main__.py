"""``python -m finlake.cost``: the same command as `finlake cost`."""

import os

from finlake.cost.report import cost

if __name__ == "__main__":
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    cost()
