"""Publishing order lines: replay of the data set, live synthetic orders, bad input."""

from superstore.produce.bad import BAD_KINDS, bad_record, bad_records, mix_bad
from superstore.produce.events import EventSynthesizer, cancellation, event_record, return_of
from superstore.produce.live import produce_live
from superstore.produce.producer import ProduceResult, Record, produce_records, to_records
from superstore.produce.readback import TopicSummary, deleted_by_retention, read_topic, scan_topic
from superstore.produce.synth import LineSynthesizer

__all__ = [
    "BAD_KINDS",
    "EventSynthesizer",
    "LineSynthesizer",
    "ProduceResult",
    "Record",
    "TopicSummary",
    "bad_record",
    "bad_records",
    "cancellation",
    "deleted_by_retention",
    "event_record",
    "mix_bad",
    "produce_live",
    "produce_records",
    "read_topic",
    "return_of",
    "scan_topic",
    "to_records",
]
