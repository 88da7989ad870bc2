"""Tools for testing code that moves money with the ledger: a reference model and strategies.

The reference model is written independently of the engine (its own fee arithmetic, its own
business-day calendar), so comparing the two after every step catches mistakes in either.
"""

from ledger.testing.model import ModelBalance, ReferenceModel

__all__ = ["ModelBalance", "ReferenceModel"]
