"""The examples in the public docstrings run, against the installed package."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "medanon",
    "medanon.privacy.criteria",
    "medanon.privacy.verify",
    "medanon.privacy.metrics",
    "medanon.reference",
    "medanon.report",
    "medanon.tabular.anonymise",
    "medanon.tabular.encode",
    "medanon.tabular.io",
    "medanon.tabular.partitioning",
    "medanon.tabular.release",
    "medanon.synthetic.tables",
    "medanon.dicom.scan",
    "medanon.dicom.pipeline",
    "medanon.dicom.pseudonym",
    "medanon.dicom.policy",
    "medanon.dicom.deidentify",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(str(tmp_path))  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
