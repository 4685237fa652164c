"""The hash-chained audit ledger: append through a unit of work, verify, checkpoint, export."""

from charter.ledger.uow import Entry, LedgerWriter, UnitOfWork, append, append_many, unit_of_work

__all__ = ["Entry", "LedgerWriter", "UnitOfWork", "append", "append_many", "unit_of_work"]
