"""medanon: anonymise medical records for research sharing.

Mondrian k-anonymity with l-diversity on tables (C++ core), the DICOM PS3.15
Annex E header profile with keyed pseudonyms, and burned-in text masking.

Examples
--------
>>> import pandas as pd, medanon
>>> df = pd.DataFrame({"age": [31, 35, 38, 52, 55, 58], "dx": list("abcabc")})
>>> medanon.anonymise(df, ["age"], "dx", k=3, l=2).report.achieved["k"]
3
"""

from __future__ import annotations

from typing import Any

try:
    from medanon import _core  # noqa: F401
except ImportError as err:  # pragma: no cover - only when the build is broken
    raise ImportError(
        f"{err}; medanon's C++ extension medanon._core was not built or cannot be loaded: "
        "reinstall with `pip install .` from a source checkout (needs a C++17 compiler)."
    ) from err

from medanon.privacy.criteria import Criterion
from medanon.privacy.verify import Verification, verify
from medanon.report import TableReport
from medanon.tabular.anonymise import AnonymisationResult, anonymise
from medanon.tabular.partitioning import Partitioning

__version__ = "0.1.0"
__all__ = [
    "AnonymisationResult",
    "Criterion",
    "Partitioning",
    "TableReport",
    "Verification",
    "__version__",
    "anonymise",
    "anonymise_dicom",
    "audit",
    "verify",
]

# The DICOM side needs the optional ``dicom`` extra (pydicom, OpenCV): import on use.
_DICOM = {"anonymise_dicom": "medanon.dicom.release", "audit": "medanon.dicom.audit"}


def __getattr__(name: str) -> Any:
    if name in _DICOM:
        import importlib

        try:
            module = importlib.import_module(_DICOM[name])
        except ImportError as err:
            raise ImportError(
                f"{err}; medanon's DICOM support needs the dicom extra: pip install 'medanon[dicom]'"
            ) from err
        return getattr(module, name)
    raise AttributeError(f"module 'medanon' has no attribute {name!r}")
