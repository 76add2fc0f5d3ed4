"""The local stack: a real Kafka broker and a real PostgreSQL, started on demand.

Also the one place that decides which Kafka and PostgreSQL every command
talks to (`kafka_config`, `pg_config`): a setting, else the local stack.
"""

from superstore.stack.manager import (
    ServiceStatus,
    stack_down,
    stack_env,
    stack_status,
    stack_up,
)
from superstore.stack.resolve import kafka_config, kafka_security, pg_admin_config, pg_config
from superstore.stack.state import INGEST_ROLE, OWNER_ROLE, READER_ROLE, WEB_ROLE

__all__ = [
    "INGEST_ROLE",
    "OWNER_ROLE",
    "READER_ROLE",
    "WEB_ROLE",
    "ServiceStatus",
    "kafka_config",
    "kafka_security",
    "pg_admin_config",
    "pg_config",
    "stack_down",
    "stack_env",
    "stack_status",
    "stack_up",
]
