"""Local mode: the deployed definitions, handlers and Glue scripts run on an embedded AWS (moto, local Spark)."""
