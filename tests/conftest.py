"""Shared fixtures: a small synthetic DICOM corpus and its de-identified copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

KEY = b"medanon-test-key-0123456789abcdef"


@pytest.fixture(scope="session")
def dicom_key() -> bytes:
    return KEY


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """3 patients x 2 studies x 2 series x 2 images = 24 files (session-wide, read-only)."""
    pytest.importorskip("pydicom")
    from medanon.synthetic.dicom_corpus import make_corpus

    root = tmp_path_factory.mktemp("corpus")
    return make_corpus(root / "in", n_patients=3, studies_per_patient=2, series_per_study=2,
                       images_per_series=2, seed=7)


@pytest.fixture(scope="session")
def anonymised(corpus, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """(output folder, run report) of medanon on the corpus with burned_in='off'."""
    from medanon.dicom.pipeline import deidentify_folder as anonymise_dicom
    from medanon.dicom.policy import Policy

    out = tmp_path_factory.mktemp("anon") / "out"
    report = anonymise_dicom(corpus.root, out, key=KEY, policy=Policy(burned_in="off"),
                             progress=False)
    return out, report


@pytest.fixture
def corpus_copy(corpus, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(corpus.root, dst)
    return dst
