"""medanon: anonymise medical records for research sharing."""

from __future__ import annotations

try:
    from medanon import _core  # noqa: F401
except ImportError as err:  # pragma: no cover - only when the build is broken
    err.add_note(
        "medanon's C++ extension medanon._core was not built or cannot be loaded; "
        "reinstall with `pip install .` from a source checkout (needs a C++17 compiler)."
    )
    raise

__version__ = "0.1.0"
__all__ = ["__version__"]
