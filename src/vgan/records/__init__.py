"""Records, the JSON files behind every number in the docs (`record`), the paper's own numbers
(`paper`), and the renderer that writes the docs' tables from them (`render`).

    python -m vgan.records render [--check]
"""

from .record import (
    ROOT,
    RecordError,
    command_line,
    config_hash,
    config_summary,
    flatten,
    load_records,
    machine_of,
    make_record,
    over_seeds,
    record_benchmark,
    record_result,
    scale_of,
    this_machine,
    validate_record,
    write_record,
)

__all__ = [
    "ROOT",
    "RecordError",
    "command_line",
    "config_hash",
    "config_summary",
    "flatten",
    "load_records",
    "machine_of",
    "make_record",
    "over_seeds",
    "record_benchmark",
    "record_result",
    "scale_of",
    "this_machine",
    "validate_record",
    "write_record",
]
