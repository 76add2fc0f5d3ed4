"""Publishing order lines: replay of the data set, live synthetic orders, bad input."""

from superstore.produce.bad import BAD_KINDS, bad_record, bad_records, mix_bad
from superstore.produce.live import produce_live
from superstore.produce.producer import ProduceResult, Record, produce_records, to_records
from superstore.produce.readback import TopicSummary, deleted_by_retention, read_topic, scan_topic
from superstore.produce.synth import LineSynthesizer

__all__ = [
    "BAD_KINDS",
    "LineSynthesizer",
    "ProduceResult",
    "Record",
    "TopicSummary",
    "bad_record",
    "bad_records",
    "deleted_by_retention",
    "mix_bad",
    "produce_live",
    "produce_records",
    "read_topic",
    "scan_topic",
    "to_records",
]
