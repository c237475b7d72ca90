"""The local web console (``finlake console``): runs and their state graphs, the lake, SQL, one dashboard per domain."""
