"""DuckDB over an export directory: views named after the Parquet files, text tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb


def open_export(directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per exported table (reads Parquet, installs nothing)."""
    con = duckdb.connect()
    for path in sorted(directory.glob("*.parquet")):
        # No SQL text is built from the folder's or the files' names (a file named
        # `x AS SELECT 1; COPY ... TO 'f.csv'; CREATE VIEW y.parquet` ran its COPY):
        # CREATE VIEW takes no prepared parameters, so the view comes from a relation,
        # the path and the name passed as values that DuckDB quotes itself.
        con.read_parquet(str(path)).create_view(path.stem, replace=False)
    return con


def text_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain, stable text rendering (notebook outputs are compared by nbval)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def show(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> None:
    result = con.execute(sql, params or [])
    headers = [d[0] for d in result.description]
    print(text_table(result.fetchall(), headers))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)
