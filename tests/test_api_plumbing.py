"""omni's base API plumbing: the first-error walker every API error message comes from, and the
CSV streamer every CSV download uses."""

from __future__ import annotations

import csv
import io

from rest_framework.exceptions import ErrorDetail

from omni.api.errors import FirstError, first_error
from omni.csv import csv_stream


def test_first_error_names_the_path_of_the_first_message_and_its_code():
    errors = {"lines": [{}, {"sku": [ErrorDetail("This field is required.", code="required")]}],
              "external_id": [ErrorDetail("Too long.", code="max_length")]}
    first = first_error(errors)
    assert first == FirstError("lines[1].sku", "This field is required.", "required")
    assert str(first) == "lines[1].sku: This field is required."


def test_first_error_of_flat_fields_non_field_errors_and_bare_messages():
    assert str(first_error({"quantity": [ErrorDetail("Must be an integer.", code="invalid")]})) == "quantity: Must be an integer."
    assert str(first_error({"non_field_errors": ["Give sku or barcode."]})) == "Give sku or barcode."
    assert str(first_error(ErrorDetail("Not found.", code="not_found"))) == "Not found."
    assert first_error(["a", "b"]).message == "a"
    assert first_error({}) == FirstError("", "Invalid input.", "invalid")


def test_csv_stream_writes_the_header_first_then_rows_in_chunks():
    rows = ([f"SKU-{i}", "name, with comma", i if i % 2 else None] for i in range(3000))
    chunks = list(csv_stream(header=["sku", "name", "available"], rows=rows, chunk_chars=10_000))
    assert chunks[0] == "sku,name,available\r\n"
    assert len(chunks) > 3 and all(len(c) < 10_100 for c in chunks)
    parsed = list(csv.reader(io.StringIO("".join(chunks))))
    assert parsed[1] == ["SKU-0", "name, with comma", ""] and parsed[2] == ["SKU-1", "name, with comma", "1"]
    assert len(parsed) == 3001


def test_csv_stream_of_no_rows_is_the_header():
    assert list(csv_stream(header=["a"], rows=[])) == ["a\r\n"]
