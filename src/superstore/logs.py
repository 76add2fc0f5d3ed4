"""Logging set-up for the command line: readable lines on stderr, quiet client libraries."""

from __future__ import annotations

import logging

__all__ = ["setup_logging"]


def setup_logging(verbose: bool = False) -> None:
    """INFO logs (DEBUG with `verbose`); librdkafka only reports errors unless verbose."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("superstore.kafka.client").setLevel(
        logging.DEBUG if verbose else logging.ERROR
    )
    for noisy in ("urllib3", "botocore", "s3fs", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
