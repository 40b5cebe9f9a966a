"""``lrox export``: the configuration view written as csv, json or parquet."""

from __future__ import annotations

from structures.errors import LroxInputError

__all__ = ["export"]


def export(db, out, fmt: str, where: str | None = None, overwrite: bool = False) -> int:
    """Write the configuration view to ``out`` as csv, json or parquet; refuses to replace a file unless asked."""
    from pathlib import Path

    import pandas as pd

    from structures.safety import output_path, write_atomically

    if fmt not in ("csv", "json", "parquet"):
        raise LroxInputError(f"export: unknown format '{fmt}' (csv, json, parquet)")
    out = output_path(out, "export", overwrite)
    from descriptors.query.configurations import query

    table = query(db, where)
    frame = pd.DataFrame(table.rows, columns=table.columns)

    def write(path):
        if fmt == "csv":
            frame.to_csv(path, index=False)
        elif fmt == "json":
            import json

            path.write_text(json.dumps(table.rows, indent=1, default=str))
        else:
            frame.to_parquet(path, index=False)

    write_atomically(out, write, "export")
    return len(table.rows)
