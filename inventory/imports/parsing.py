"""Streaming CSV reader for stock files: never holds the file in memory.

Reads the upload through a UTF-8 text wrapper (with or without BOM), sniffs ``,`` or ``;``
from the header, accepts CRLF and quoted fields, and checks each row on its own (column count,
required values, whole-number quantities, sign). Problems are reported as ``RowError`` with
the file line (header = line 1) and the column name and number. Checks that need the database
(unknown SKU/location, duplicates, stock rules) are done set-based in ``staging``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import BinaryIO

from omni.limits import CONTROL_CHARACTERS, MAX_QUANTITY, without_control_characters

COLUMN_ALIASES = {
    "sku": "sku",
    "location": "location",
    "location_code": "location",
    "quantity": "quantity",
    "qty": "quantity",
    "note": "note",
    "reason": "note",
}
KNOWN_COLUMNS = ("sku", "location", "quantity", "note")

# One staged row: (line, sku, location code, quantity, note or None). A row already refused here
# is staged with quantity None, so that the set-based checks (unknown SKU …) report on it too.
StagedRow = tuple[int, str, str, "int | None", "str | None"]


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    column_number: int | None
    value: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


class FatalFileError(Exception):
    """The file as a whole cannot be read (empty, binary, bad header): nothing is imported."""

    def __init__(self, error: RowError):
        super().__init__(error.message)
        self.error = error


def _value(text: str, limit: int = 100) -> str:
    """A refused value as shown in an error (control characters as U+FFFD: the error list is stored as JSON)."""
    text = without_control_characters(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_undecodable_line(binary: BinaryIO, delimiter: str = ",") -> tuple[int, int, int] | None:
    """(line, column number, byte) of the first byte that is not UTF-8, reading the file again line
    by line (a decoder that reads ahead in chunks cannot tell the line). None when the file decodes."""
    binary.seek(0)
    for number, raw in enumerate(binary, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return number, raw[: exc.start].count(delimiter.encode()) + 1, raw[exc.start]
    return None


def _open_quote_column(raw: str, delimiter: str) -> int:
    """1-based column number of the quoted field that was never closed (or that is malformed)."""
    column, in_quotes, last_open = 1, False, 1
    for ch in raw:
        if ch == '"':
            if not in_quotes:
                last_open = column
            in_quotes = not in_quotes
        elif ch == delimiter and not in_quotes:
            column += 1
    return last_open


class StockFileReader:
    """Iterate ``batches()`` of valid staged rows; every bad row goes to ``on_error``.

    ``location_code`` (an override) sends every row to that location; the file's location
    column may then be absent, empty or equal to it.
    """

    SNIFF_BYTES = 8192

    def __init__(
        self,
        binary: BinaryIO,
        *,
        mode: str,
        on_error: Callable[[RowError], None],
        location_code: str | None = None,
        default_note: str = "",
    ) -> None:
        self.binary = binary
        self.mode = mode
        self.on_error = on_error
        self.location_code = location_code or None
        self.default_note = default_note.strip()
        self.rows_seen = 0
        self.rows_bad = 0
        self.columns: dict[str, int] = {}  # canonical name -> 1-based column number
        self.header: list[str] = []
        self.delimiter = ","
        self._record: list[str] = []
        self._ends_with_newline = True

    # -- helpers -------------------------------------------------------------------------------

    def bytes_read(self) -> int:
        try:
            return self.binary.tell()
        except (OSError, ValueError, AttributeError):
            return 0

    def column_number(self, name: str) -> int | None:
        return self.columns.get(name)

    def _error(self, line: int, column: str, value: str, code: str, message: str, column_number: int | None = None) -> None:
        if column_number is None:
            column_number = self.columns.get(column)
        self.on_error(RowError(line, column, column_number, _value(value), code, message))

    def _lines(self, text: io.TextIOBase) -> Iterator[str]:
        line = "\n"
        for line in text:
            self._record.append(line)
            yield line
        self._ends_with_newline = line.endswith(("\n", "\r"))

    # -- header ------------------------------------------------------------------------------

    def _check_binary(self) -> None:
        head = self.binary.read(self.SNIFF_BYTES)
        if hasattr(self.binary, "seek"):
            self.binary.seek(0)
        stripped = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        if not stripped.strip():
            raise FatalFileError(RowError(1, "", 1, "", "empty_file", "The file is empty: expected a header line (sku, location, quantity) and rows."))
        if b"\x00" in head:
            offset = head.index(b"\x00")
            line = head[:offset].count(b"\n") + 1
            raise FatalFileError(RowError(
                line, "", 1, "", "binary_file",
                f"This is not a CSV text file: it contains binary data (a NUL byte at byte {offset}).",
            ))

    def _read_header(self, first_line: str) -> None:
        self.delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        header = next(csv.reader([first_line], delimiter=self.delimiter))
        self.header = [h.strip() for h in header]
        problems: list[RowError] = []
        for number, name in enumerate(self.header, start=1):
            canonical = COLUMN_ALIASES.get(name.lower())
            if canonical is None:
                problems.append(RowError(1, name, number, _value(name), "unknown_column",
                                         f"Line 1: unknown column {name!r} in the header (column {number}); expected {', '.join(KNOWN_COLUMNS)}."))
            elif canonical in self.columns:
                problems.append(RowError(1, name, number, _value(name), "duplicate_column",
                                         f"Line 1: column {name!r} appears twice in the header (columns {self.columns[canonical]} and {number})."))
            else:
                self.columns[canonical] = number
        required = ["sku", "quantity"] + ([] if self.location_code else ["location"])
        for name in required:
            if name not in self.columns:
                problems.append(RowError(1, name, None, "", "missing_column",
                                         f"Line 1: the header has no {name!r} column (found: {', '.join(self.header) or 'nothing'})."))
        if problems:
            for extra in problems[1:]:
                self.on_error(extra)
            raise FatalFileError(problems[0])

    # -- rows --------------------------------------------------------------------------------

    def batches(self, size: int = 20_000) -> Iterator[list[StagedRow]]:
        self._check_binary()
        text = io.TextIOWrapper(self.binary, encoding="utf-8-sig", newline="", errors="strict")
        try:
            yield from self._batches(text, size)
        except UnicodeDecodeError as exc:
            found = first_undecodable_line(self.binary, self.delimiter) if hasattr(self.binary, "seek") else None
            line, column, byte = found if found else (max(self._line_hint + len(self._record), 1), 1, exc.object[exc.start])
            header = self.header or self._header_of_undecodable_file()
            name = header[column - 1] if 0 < column <= len(header) and line > 1 else ""
            raise FatalFileError(RowError(
                line, name, column, "", "not_utf8",
                f"Line {line}, column {column}: not UTF-8 text (undecodable byte 0x{byte:02x}); save the file as CSV UTF-8.",
            )) from None
        finally:
            text.detach()

    _line_hint = 1

    def _header_of_undecodable_file(self) -> list[str]:
        self.binary.seek(0)
        first = self.binary.readline().decode("utf-8-sig", errors="replace")
        return [h.strip() for h in next(csv.reader([first], delimiter=";" if first.count(";") > first.count(",") else ","), [])]

    def _batches(self, text: io.TextIOWrapper, size: int) -> Iterator[list[StagedRow]]:
        first = text.readline()
        line_base = 1  # physical lines read before the csv reader starts (blank lines + the header)
        while first and not first.strip():
            first = text.readline()
            line_base += 1
        if not first.strip():
            raise FatalFileError(RowError(1, "", 1, "", "empty_file", "The file is empty: expected a header line and rows."))
        self._read_header(first)
        reader = csv.reader(self._lines(text), delimiter=self.delimiter, strict=True)
        width = len(self.header)
        col_sku = self.columns["sku"] - 1
        col_qty = self.columns["quantity"] - 1
        col_loc = self.columns.get("location", 0) - 1
        col_note = self.columns.get("note", 0) - 1
        override = self.location_code
        snapshot = self.mode == "snapshot"
        delta_note = self.default_note or None
        batch: list[StagedRow] = []
        pending: tuple[int, list[str]] | None = None
        while True:
            self._record = []
            start = line_base + reader.line_num + 1
            self._line_hint = start
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raw = "".join(self._record)
                column_number = _open_quote_column(raw, self.delimiter)
                name = self.header[column_number - 1] if column_number <= width else ""
                truncated = "unexpected end of data" in str(exc)
                self.rows_seen += 1
                self.rows_bad += 1
                self._error(
                    start, name, raw.rstrip("\r\n"), "truncated_row" if truncated else "malformed_quotes",
                    (f"Line {start} stops inside a quoted field (column {column_number}): the file is cut off or a quote is not closed."
                     if truncated else f"Line {start}, column {column_number}: malformed quoting ({exc})."),
                    column_number,
                )
                if truncated:
                    break
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if pending is not None:
                self._emit(pending, batch, width, col_sku, col_qty, col_loc, col_note, override, snapshot, delta_note, last=False)
                if len(batch) >= size:
                    yield batch
                    batch = []
            pending = (start, fields)
        if pending is not None:
            self._emit(pending, batch, width, col_sku, col_qty, col_loc, col_note, override, snapshot, delta_note,
                       last=not self._ends_with_newline)
        if self.rows_seen == 0:
            raise FatalFileError(RowError(2, "", 1, "", "no_rows", "The file has a header but no rows."))
        if batch:
            yield batch

    def _emit(self, pending, batch, width, col_sku, col_qty, col_loc, col_note, override, snapshot, delta_note, *, last: bool) -> None:
        line, fields = pending
        self.rows_seen += 1
        n = len(fields)
        if n != width:
            self.rows_bad += 1
            if n > width:
                self._error(line, "", fields[width], "extra_columns",
                            f"Line {line} has {n} columns but the header has {width}: unexpected value in column {width + 1}.",
                            width + 1)
            else:
                missing = self.header[n]
                if last:
                    self._error(line, missing, "", "truncated_row",
                                f"Line {line} is cut off: it ends after column {n} of {width} (no {missing!r}); the file looks truncated.",
                                n + 1)
                else:
                    self._error(line, missing, "", "missing_columns",
                                f"Line {line} has {n} columns but the header has {width}: {', '.join(self.header[n:])} missing.",
                                n + 1)
            return
        for number, text in enumerate(fields, start=1):
            if CONTROL_CHARACTERS.search(text):
                self.rows_bad += 1
                name = self.header[number - 1]
                self._error(line, name, text, "control_character",
                            f"Line {line}, column {number} ({name}): contains a NUL or control character.", number)
                return
        ok = True
        sku = fields[col_sku].strip()
        if not sku:
            ok = False
            self._error(line, "sku", "", "required", f"Line {line}: the SKU is empty.")
        if override:
            loc = override
            if col_loc >= 0:
                given = fields[col_loc].strip()
                if given and given != override:
                    ok = False
                    self._error(line, "location", given, "location_mismatch",
                                f"Line {line}: location {given!r} differs from the chosen location {override!r}.")
        else:
            loc = fields[col_loc].strip()
            if not loc:
                ok = False
                self._error(line, "location", "", "required", f"Line {line}: the location is empty.")
        raw_qty = fields[col_qty].strip()
        digits = raw_qty[1:] if raw_qty[:1] in ("+", "-") else raw_qty
        qty = 0
        if not raw_qty:
            ok = False
            self._error(line, "quantity", "", "required", f"Line {line}: the quantity is empty.")
        elif not (digits.isascii() and digits.isdigit()):
            ok = False
            self._error(line, "quantity", raw_qty, "not_an_integer", f"Line {line}: quantity {raw_qty!r} is not a whole number.")
        else:
            qty = int(raw_qty)
            if qty < 0 and snapshot:
                ok = False
                self._error(line, "quantity", raw_qty, "negative_quantity",
                            f"Line {line}: a counted quantity cannot be negative ({qty}); use a delta import to remove units.")
            elif abs(qty) > MAX_QUANTITY:
                ok = False
                self._error(line, "quantity", raw_qty, "out_of_range",
                            f"Line {line}: quantity {_value(raw_qty, 30)} is too large (at most {MAX_QUANTITY:,} in size).")
        note = None
        if not snapshot:
            note = (fields[col_note].strip() if col_note >= 0 else "") or None
            if note is None and delta_note is None:
                ok = False
                self._error(line, "note", "", "reason_required",
                            f"Line {line}: a delta adjustment needs a reason (a 'note' column or the import's reason).",
                            self.columns.get("note"))
            elif note is not None and len(note) > 255:
                note = note[:255]
        if ok:
            batch.append((line, sku, loc, qty, note))
        else:
            self.rows_bad += 1
            if sku and loc:
                batch.append((line, sku, loc, None, None))
