"""Streaming CSV: rows in, text chunks out, for ``StreamingHttpResponse`` and files (imports no app)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any


def csv_stream(*, header: Sequence[str], rows: Iterable[Sequence[Any]], chunk_chars: int = 64_000) -> Iterator[str]:
    """The header at once (a client sees the download start), then the rows in chunks of about
    ``chunk_chars`` characters. ``None`` is written as an empty field. ``rows`` may be a generator
    that queries as it goes: nothing is held in memory beyond one chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(header)
    yield flush()
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        if buffer.tell() >= chunk_chars:
            yield flush()
    tail = flush()
    if tail:
        yield tail
