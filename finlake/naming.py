"""Execution naming lives with the handlers (the S3 trigger names executions too): re-exported here."""

from functions.common.naming import execution_input, execution_name

__all__ = ["execution_input", "execution_name"]
