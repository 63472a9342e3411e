"""Privacy criteria, their independent verification, and information-loss metrics."""

from medanon.privacy.criteria import Criterion
from medanon.privacy.verify import Verification, verify

__all__ = ["Criterion", "Verification", "verify"]
