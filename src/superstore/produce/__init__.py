"""Publishing order lines: replay of the data set, live synthetic orders, bad input."""

from superstore.produce.bad import BAD_KINDS, bad_record, bad_records, mix_bad
from superstore.produce.live import produce_live
from superstore.produce.producer import ProduceResult, Record, produce_records, to_records
from superstore.produce.synth import LineSynthesizer

__all__ = [
    "BAD_KINDS",
    "LineSynthesizer",
    "ProduceResult",
    "Record",
    "bad_record",
    "bad_records",
    "mix_bad",
    "produce_live",
    "produce_records",
    "to_records",
]
