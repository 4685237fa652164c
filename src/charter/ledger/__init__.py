"""The hash-chained audit ledger: append through a unit of work, verify, checkpoint, export."""

from charter.ledger.unit_of_work import Entry, UnitOfWork, append, append_many, unit_of_work

__all__ = ["Entry", "UnitOfWork", "append", "append_many", "unit_of_work"]
