"""Charter's error hierarchy.

Every error a user can meet is a :class:`CharterError` with a stable ``code``
(used by tests, the REST API and scripts) and an HTTP ``status``. The CLI turns
them into one ``Error: ...`` line; the API into a JSON problem document. A
message names the thing that is wrong and, where there is one, the fix.

    CharterError                      charter.error             500
    ├── InvalidInput                  input.invalid             400
    │   ├── LedgerEntryInvalid        ledger.entry_invalid      400
    │   ├── PolicyParseError          policy.parse_error        400
    │   ├── PolicyExpressionError     policy.expression_error   400
    │   ├── PolicyContextInvalid      policy.context_invalid    400
    │   └── PolicyCasesInvalid        policy.cases_invalid      400
    ├── NotFound                      not_found                 404
    │   └── PolicyPackNotFound        policy.pack_not_found     404
    ├── Conflict                      conflict                  409
    │   └── IntegrityMismatch         integrity.mismatch        409
    ├── Forbidden                     auth.forbidden            403
    ├── Unauthenticated               auth.unauthenticated      401
    ├── RateLimited                   auth.rate_limited         429
    ├── DemoFailed                    demo.failed               500
    ├── ConfigError                   config.invalid            500
    │   ├── HomeMissing               home.missing              500
    │   ├── HomeCorrupt               home.corrupt              500
    │   └── SigningKeyError           key.invalid               500
    │       ├── SigningKeyMissing     key.missing               500
    │       └── SigningKeyUnwritable  key.unwritable            500
    └── StoreError                    store.error               503
        ├── StoreUnreachable          store.unreachable         503
        ├── StoreNotInitialised       store.not_initialised     503
        ├── SchemaOutdated            store.schema_outdated     503
        └── SchemaTooNew              store.schema_too_new      503
"""

from __future__ import annotations

from typing import ClassVar


class CharterError(Exception):
    """Base of every error Charter raises on purpose."""

    code: ClassVar[str] = "charter.error"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "status": self.status, "message": self.message}


class InvalidInput(CharterError):
    """A value given by the user is malformed or out of range."""

    code = "input.invalid"
    status = 400


class LedgerEntryInvalid(InvalidInput):
    """A ledger entry cannot be written as given (bad action, actor, payload)."""

    code = "ledger.entry_invalid"


class PolicyParseError(InvalidInput):
    """A policy document is not valid YAML or breaks the Policy format (unknown field, wrong type)."""

    code = "policy.parse_error"


class PolicyExpressionError(InvalidInput):
    """A rule's CEL expression, message template or Rego module/query does not compile."""

    code = "policy.expression_error"


class PolicyContextInvalid(InvalidInput):
    """An evaluation context has fields the context schema does not declare, or values of the wrong type."""

    code = "policy.context_invalid"


class PolicyCasesInvalid(InvalidInput):
    """A policy folder's ``cases.yaml`` breaks the cases format."""

    code = "policy.cases_invalid"


class NotFound(CharterError):
    code = "not_found"
    status = 404


class PolicyPackNotFound(NotFound):
    """No built-in policy pack has that name."""

    code = "policy.pack_not_found"


class Conflict(CharterError):
    code = "conflict"
    status = 409


class IntegrityMismatch(Conflict):
    """An artifact or data file no longer has the content the registry recorded (tampered or replaced)."""

    code = "integrity.mismatch"


class Forbidden(CharterError):
    """The acting principal lacks the role an action needs."""

    code = "auth.forbidden"
    status = 403


class Unauthenticated(CharterError):
    """No credentials, or credentials that do not name a principal (unknown, revoked, expired)."""

    code = "auth.unauthenticated"
    status = 401


class RateLimited(CharterError):
    """Too many failed attempts from one client; it must wait."""

    code = "auth.rate_limited"
    status = 429


class DemoFailed(CharterError):
    """A step of ``charter demo``'s story did not give what the next one needs (the message says which)."""

    code = "demo.failed"


class ConfigError(CharterError):
    """Settings, paths or keys are wrong; nothing was changed."""

    code = "config.invalid"


class HomeMissing(ConfigError):
    code = "home.missing"


class HomeCorrupt(ConfigError):
    code = "home.corrupt"


class SigningKeyError(ConfigError):
    code = "key.invalid"


class SigningKeyMissing(SigningKeyError):
    code = "key.missing"


class SigningKeyUnwritable(SigningKeyError):
    code = "key.unwritable"


class StoreError(CharterError):
    """The control-plane database cannot be used."""

    code = "store.error"
    status = 503


class StoreUnreachable(StoreError):
    code = "store.unreachable"


class StoreNotInitialised(StoreError):
    code = "store.not_initialised"


class SchemaOutdated(StoreError):
    code = "store.schema_outdated"


class SchemaTooNew(StoreError):
    code = "store.schema_too_new"


def all_error_classes() -> list[type[CharterError]]:
    """Every concrete error class, for the docs and the API's error table."""
    found: list[type[CharterError]] = []
    stack: list[type[CharterError]] = [CharterError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(reversed(cls.__subclasses__()))
    return found
