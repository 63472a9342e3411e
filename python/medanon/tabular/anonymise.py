"""``anonymise()``: Mondrian k-anonymity with l-diversity on a DataFrame."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from medanon.privacy.criteria import Criterion, DiversityName
from medanon.privacy.metrics import average_class_size, discernibility, ncp
from medanon.privacy.verify import verify
from medanon.report import TableReport
from medanon.tabular.encode import EncodedTable, encode
from medanon.tabular.partitioning import Partitioning, partition_with_core, resolve_threads
from medanon.tabular.release import OUTPUT_FORMS, OutputForm, build_release

Mode = Literal["strict", "relaxed"]
MissingPolicy = Literal["error", "suppress"]
Partitioner = Callable[
    [npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.int64], Criterion, str], Partitioning
]

__all__ = ["AnonymisationResult", "MissingPolicy", "Mode", "OutputForm", "anonymise", "run"]


@dataclass
class AnonymisationResult:
    """A release and its proof.

    Attributes
    ----------
    table : DataFrame
        The release (``generalised``, ``aggregate`` or ``centroid``).
    labels : ndarray of int64
        Partition of each input row, -1 for rows suppressed for missing values.
    partitioning : Partitioning
        The partitions over the kept rows, with encoded bounds.
    report : TableReport
        Achieved k and l measured on ``table``, information loss, timings.
    encoded : EncodedTable
        How the quasi-identifiers were encoded (for plots and metrics).
    """

    table: pd.DataFrame
    labels: npt.NDArray[np.int64]
    partitioning: Partitioning
    report: TableReport
    encoded: EncodedTable
    quasi_identifiers: list[str]
    sensitive: str | None
    _source: pd.DataFrame = field(repr=False)

    @property
    def k(self) -> int:
        """Achieved k, measured on the release."""
        return int(self.report.achieved["k"])


def _resolve_criterion(
    k: int, l: float | None, diversity: DiversityName | None, c: float, sensitive: str | None
) -> Criterion:
    if sensitive is None:
        if l not in (None, 1, 1.0):
            raise ValueError("l > 1 needs a sensitive attribute: pass sensitive='column'")
        if diversity not in (None, "none"):
            raise ValueError(f"diversity={diversity!r} needs a sensitive attribute: pass sensitive='column'")
        return Criterion(k=k)
    div: DiversityName = "distinct" if diversity is None else diversity
    return Criterion(k=k, diversity=div, l=2.0 if l is None else l, c=c)


def run(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str | None,
    *,
    k: int,
    l: float | None,
    diversity: DiversityName | None,
    c: float,
    mode: Mode,
    output: OutputForm,
    categorical_order: Mapping[str, Sequence[Any]] | None,
    missing: MissingPolicy,
    partitioner: Partitioner,
    engine: str = "reference",
) -> AnonymisationResult:
    """Validate, encode, partition with ``partitioner``, release, and measure."""
    criterion = _resolve_criterion(k, l, diversity, c, sensitive)
    if mode not in ("strict", "relaxed"):
        raise ValueError(f"mode must be 'strict' or 'relaxed', got {mode!r}")
    if output not in OUTPUT_FORMS:
        raise ValueError(f"output must be one of {', '.join(map(repr, OUTPUT_FORMS))}, got {output!r}")
    if missing not in ("error", "suppress"):
        raise ValueError(f"missing must be 'error' or 'suppress', got {missing!r}")
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    enc = encode(df, quasi_identifiers, sensitive, categorical_order, suppress_missing=missing == "suppress")
    n = len(enc.kept)
    if criterion.k > n:
        raise ValueError(
            f"k = {criterion.k} is larger than the number of rows ({n}{' kept' if enc.suppressed else ''})"
        )
    if sensitive is not None and criterion.diversity in ("distinct", "recursive"):
        distinct = len(enc.sensitive_values)
        if criterion.l > distinct:
            raise ValueError(
                f"l = {criterion.l:g} is larger than the number of distinct values of {sensitive!r} ({distinct})"
            )
    timings["encode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        part = partitioner(enc.x, enc.sensitive, enc.categories, criterion, mode)
    except ValueError as err:
        if "as a whole" in str(err):
            raise ValueError(
                f"the table as a whole fails {criterion.diversity} l-diversity with l = {criterion.l:g}"
                + (f", c = {criterion.c:g}" if criterion.diversity == "recursive" else "")
                + f" on {sensitive!r}: no release can satisfy it; lower l or choose another criterion"
            ) from None
        raise
    timings["partition"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    table = build_release(df, enc, part, sensitive, output)
    timings["release"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    qis = list(quasi_identifiers)
    measured = verify(table, qis, sensitive, c=criterion.c, count="count" if output == "aggregate" else None)
    timings["verify"] = time.perf_counter() - t0

    labels = np.full(len(df), -1, dtype=np.int64)
    labels[enc.kept] = part.labels
    report = TableReport(
        requested={
            "k": criterion.k,
            "diversity": criterion.diversity,
            "l": criterion.l,
            "c": criterion.c,
            "mode": mode,
            "output": output,
            "missing": missing,
        },
        achieved=measured.to_dict(),
        rows=len(df),
        released_rows=measured.rows,
        suppressed=enc.suppressed,
        partitions=part.n_partitions,
        c_avg=average_class_size(part, criterion.k),
        discernibility=discernibility(part),
        ncp=ncp(enc, part),
        quasi_identifiers=qis,
        sensitive=sensitive,
        timings=timings,
        engine=engine,
    )
    return AnonymisationResult(
        table=table,
        labels=labels,
        partitioning=part,
        report=report,
        encoded=enc,
        quasi_identifiers=qis,
        sensitive=sensitive,
        _source=df,
    )


def anonymise(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str | None = None,
    *,
    k: int = 5,
    l: float | None = None,
    diversity: DiversityName | None = None,
    c: float = 1.0,
    mode: Mode = "strict",
    output: OutputForm = "generalised",
    categorical_order: Mapping[str, Sequence[Any]] | None = None,
    missing: MissingPolicy = "error",
    threads: int | None = None,
) -> AnonymisationResult:
    """Make a table k-anonymous and l-diverse with Mondrian, keeping its statistics.

    Parameters
    ----------
    df : DataFrame
        The table; it is not modified.
    quasi_identifiers : sequence of str
        Columns an attacker could link (age, sex, postcode, dates...). Numbers,
        integers, dates, durations, booleans, strings and categoricals.
    sensitive : str, optional
        The attribute to protect (diagnosis...). Needed for l-diversity.
    k : int, default 5
        Every released group of identical quasi-identifiers holds >= k rows.
    l : float, optional
        Diversity of ``sensitive`` in every group; default 2 when ``sensitive``
        is given.
    diversity : {"distinct", "entropy", "recursive", "none"}, optional
        Default "distinct" when ``sensitive`` is given, else "none".
    c : float, default 1.0
        The c of recursive (c,l)-diversity.
    mode : {"strict", "relaxed"}
        Strict keeps equal values together (partitions never overlap);
        relaxed splits ties to balance halves (finer, ranges may overlap).
    output : {"generalised", "aggregate", "centroid"}
        Ranges and value sets per row; one counted row per (group, sensitive
        value); or partition means for numbers.
    categorical_order : mapping, optional
        Column -> ordered list of its values (e.g. a hierarchy's leaf order);
        other string columns are ordered by sorting.
    missing : {"error", "suppress"}
        Missing or infinite quasi-identifiers (or sensitive values) raise by
        default; "suppress" leaves those rows out of the release and counts them.
    threads : int, optional
        Threads for the partitioning (default: every available core). The
        release is the same whatever the number. Each thread takes at least
        16,384 rows, so smaller tables run on fewer; on a machine whose
        cores are busy with other work, ``threads=1`` can be faster.

    Returns
    -------
    AnonymisationResult
        ``.table``, ``.labels``, ``.report`` (achieved k and l measured on the
        output, partitions, C_avg, discernibility, NCP, timings).

    Raises
    ------
    ValueError
        Bad arguments, naming the argument; k larger than the table; l larger
        than the distinct sensitive values; a table that as a whole fails the
        diversity criterion.

    Examples
    --------
    >>> import pandas as pd, medanon
    >>> df = pd.DataFrame({"age": [31, 35, 38, 52, 55, 58], "dx": list("abcabc")})
    >>> r = medanon.anonymise(df, ["age"], "dx", k=3, l=2)
    >>> r.table["age"].tolist()
    ['31-38', '31-38', '31-38', '52-58', '52-58', '52-58']
    >>> r.report.achieved["k"], r.report.achieved["distinct_l"]
    (3, 3)

    References
    ----------
    LeFevre, DeWitt, Ramakrishnan, "Mondrian Multidimensional K-Anonymity", ICDE 2006.
    """
    return run(
        df,
        quasi_identifiers,
        sensitive,
        k=k,
        l=l,
        diversity=diversity,
        c=c,
        mode=mode,
        output=output,
        categorical_order=categorical_order,
        missing=missing,
        partitioner=functools.partial(partition_with_core, threads=resolve_threads(threads)),
        engine="core",
    )
