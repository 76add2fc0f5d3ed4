"""Logging set-up for the command line: lines on stderr, quiet client libraries.

Readable lines by default; with `SUPERSTORE_LOG_JSON=1`, one JSON object per
line (time, level, logger, message, process, and the traceback if any) for log
shippers such as CloudWatch, Loki or journald.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

__all__ = ["JsonFormatter", "setup_logging"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, message, pid."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        doc = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(verbose: bool = False, json_lines: bool = False) -> None:
    """INFO logs (DEBUG with `verbose`); librdkafka only reports errors unless verbose.

    `json_lines`: one JSON object per line (the `log_json` setting).
    """
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("superstore.kafka.client").setLevel(
        logging.DEBUG if verbose else logging.ERROR
    )
    for noisy in ("urllib3", "botocore", "s3fs", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
