"""riskseal: risk-based access decisions on Kafka and a sealed, verifiable audit trail in S3."""

from riskseal.errors import RiskSealError
from riskseal.settings import Settings

__all__ = ["RiskSealError", "Settings", "__version__"]

__version__ = "0.1.0"
