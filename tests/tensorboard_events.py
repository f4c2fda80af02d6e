"""Read TensorBoard event files back: TFRecord framing around `Event` protos (tensorboardX's copy).

Each record is a little-endian uint64 length, its masked CRC32C, the bytes, and their masked CRC;
the CRCs are skipped here (the tests read files they just wrote).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from pathlib import Path


def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} over every events file under `folder`, sorted by step."""
    from tensorboardX.proto import event_pb2

    found: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            record = data[offset + 12 : offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                found[value.tag].append((event.step, value.simple_value))
    return {tag: sorted(values) for tag, values in found.items()}
