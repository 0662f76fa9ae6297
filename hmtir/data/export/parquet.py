"""Write one split as Parquet shards of the size ``push_to_hub`` uses, images as the files' own bytes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmtir.data.export.tree import PlannedSplit
from hmtir.errors import HmtirError

MAX_SHARD_BYTES = 500 << 20  # push_to_hub's default shard size (datasets.config.MAX_SHARD_SIZE, "500MB")
#: rows per Parquet row group: 64 raw 640x512 16-bit frames are 42 MB, under datasets' 100MB row-group cap
ROW_GROUP_ROWS = 64


@dataclass
class SplitSummary:
    config: str
    split: str
    rows: int
    shards: int
    bytes: int  # Parquet bytes on disk
    arrow_bytes: int = 0  # in-memory size (the card's num_bytes)


def write_split(
    staging: Path, part: PlannedSplit, features: Any, max_shard_bytes: int, advance: Callable[[], None]
) -> SplitSummary:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, count = features.arrow_schema, len(part.rows)
    shards = max(1, min(count, math.ceil(part.size / max_shard_bytes)))
    bounds = [round(i * count / shards) for i in range(shards + 1)]
    folder = staging / part.config
    folder.mkdir(exist_ok=True)
    summary = SplitSummary(part.config, part.split, count, shards, 0)
    for shard in range(shards):
        path = folder / f"{part.split}-{shard:05d}-of-{shards:05d}.parquet"
        rows = part.rows[bounds[shard] : bounds[shard + 1]]
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, len(rows), ROW_GROUP_ROWS):
                batch = []
                for row in rows[start : start + ROW_GROUP_ROWS]:
                    # the row is already conformed to the schema; the image goes in as bytes, never as a
                    # path (Image.encode_example keeps only the path when a file of that name is in the cwd)
                    batch.append({**row, "image": _image(row["image"])})
                    advance()
                table = pa.Table.from_pylist(batch, schema=schema)
                summary.arrow_bytes += table.nbytes
                writer.write_table(table)
        summary.bytes += path.stat().st_size
    return summary


def _image(path: Path) -> dict[str, Any]:
    try:
        return {"bytes": path.read_bytes(), "path": path.name}
    except OSError as err:
        raise HmtirError(f"cannot read {path}: {err.strerror or err}") from None
