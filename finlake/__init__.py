"""finlake's operator side: the ``finlake`` CLI, the embedded AWS, sample sources, cost, bench and smoke tools."""
