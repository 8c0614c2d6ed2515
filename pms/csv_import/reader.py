"""Reading exported tables: encodings, BOMs, line endings, delimiters and report title lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    header: list[str]
    header_line: int
    rows: list[tuple[int, list[str]]]  # (1-based line number in the file, cells)
    preamble: list[str] = field(default_factory=list)  # report title lines above the header
    warnings: list[str] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM, also UTF-16 with BOM); Windows-1252 as the fallback."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "file is not UTF-8; read it as Windows-1252"


def _delimiter(text: str) -> str:
    sample = text[:8192].splitlines()[:40]
    counts = {d: sum(line.count(d) for line in sample) for d in (",", "\t", ";", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_table(
    path: Path | str, score: Callable[[Sequence[str]], int], *, min_score: int = 3, scan: int = 30
) -> Table:
    """Rows of a CSV/TSV export. The header is the first row among the first `scan` with the highest
    `score` (known column names) of at least `min_score`; rows above it are the report's preamble."""
    text, warning = decode(Path(path).read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    numbered: list[tuple[int, list[str]]] = []
    start = 1
    for cells in reader:
        numbered.append((start, cells))
        start = reader.line_num + 1
    best, best_score = -1, min_score - 1
    for i, (_, cells) in enumerate(numbered[:scan]):
        s = score(cells)
        if s > best_score:
            best, best_score = i, s
    if best < 0:
        first = next((c for _, c in numbered if any(x.strip() for x in c)), [])
        raise ValueError(f"no header row found in the first {scan} lines (first line: {first!r})")
    table = Table(
        header=[h.strip() for h in numbered[best][1]],
        header_line=numbered[best][0],
        rows=numbered[best + 1 :],
        preamble=[" ".join(c).strip() for _, c in numbered[:best] if any(x.strip() for x in c)],
    )
    if warning:
        table.warnings.append(warning)
    return table


def is_blank(cells: Sequence[str]) -> bool:
    return not any(c.strip() for c in cells)
