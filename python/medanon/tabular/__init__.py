"""Tables: encode a DataFrame to arrays, partition it, decode partitions to a release."""

from medanon.tabular.anonymise import AnonymisationResult, anonymise
from medanon.tabular.partitioning import Partitioning

__all__ = ["AnonymisationResult", "Partitioning", "anonymise"]
