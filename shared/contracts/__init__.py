"""Event contracts: frozen, versioned pydantic models. Importing this package registers them all.

A breaking change is a new contract with ``schema_version = 2`` on a ``.v2`` stream; adding an
optional field is not breaking. The committed JSON Schemas in ``contracts/schemas`` are checked in
the tests so that a breaking change cannot slip in unnoticed.
"""

from shared.contracts.registration import (
    EnrollmentWithdrawn,
    FacilitatorEnrolled,
    FacilitatorRegistered,
    Role,
)

__all__ = ["EnrollmentWithdrawn", "FacilitatorEnrolled", "FacilitatorRegistered", "Role"]
