"""The local stack: a real Kafka broker and a real PostgreSQL, started on demand."""

from superstore.stack.manager import (
    ServiceStatus,
    stack_down,
    stack_env,
    stack_status,
    stack_up,
)

__all__ = ["ServiceStatus", "stack_down", "stack_env", "stack_status", "stack_up"]
