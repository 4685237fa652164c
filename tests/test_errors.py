"""The error hierarchy: every class documented in the tree, codes stable and unique."""

from __future__ import annotations

import charter.errors as errors
from charter.errors import CharterError, all_error_classes


def test_every_error_appears_in_the_documented_tree_with_its_code_and_status() -> None:
    doc = errors.__doc__ or ""
    for cls in all_error_classes():
        line = next((line for line in doc.splitlines() if f" {cls.__name__} " in f" {line} "), None)
        assert line is not None, f"{cls.__name__} is missing from the tree in charter/errors.py"
        assert cls.code in line.split() and str(cls.status) in line.split(), line


def test_codes_are_unique_and_dotted_lowercase() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))
    assert all(code == code.lower() and " " not in code for code in codes)


def test_errors_serialise_for_the_api() -> None:
    error = errors.SchemaTooNew("the database x is newer")
    assert isinstance(error, CharterError)
    assert error.to_dict() == {"code": "store.schema_too_new", "status": 503, "message": "the database x is newer"}
