"""WeasyPrint for the tests whose subject is the printed page; the rest of the suite renders plain
(TIAOJIE_DOCUMENT_RENDERER=plain, set by tests/conftest.py; documents/plain.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from models.settings import get_settings


@contextmanager
def printed_documents() -> Iterator[None]:
    """Documents laid out by WeasyPrint inside the block (a fixture of any scope may use it)."""
    before = os.environ.get("TIAOJIE_DOCUMENT_RENDERER")
    os.environ["TIAOJIE_DOCUMENT_RENDERER"] = "weasyprint"
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TIAOJIE_DOCUMENT_RENDERER", None)
        else:
            os.environ["TIAOJIE_DOCUMENT_RENDERER"] = before
        get_settings.cache_clear()
