"""Operations: scheduling, alerting and metrics for `superstore run`."""
