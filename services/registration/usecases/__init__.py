"""Use cases of the registration service. Each write runs inside a unit of work given by its
caller (an HTTP request or an intake message), so its state change and its events commit
together; the bulk import opens one unit of work per row.

``authorize`` is the caller's check that it may act on a region: an HTTP credential's regions, or
the region of the intake topic the message arrived on. Reference-data writes take an
``authorize`` without arguments (admin credentials only).
"""

from services.registration.usecases.bulk import ImportReport, RowProblem, RowResult, import_facilitators
from services.registration.usecases.common import (
    Authorize,
    AuthorizeAdmin,
    check_region_served,
    check_speciality,
    nik_hash,
    phone_hash,
)
from services.registration.usecases.enrollments import enroll_facilitator, get_training, withdraw_enrollment
from services.registration.usecases.facilitators import (
    Assignment,
    Changes,
    FacilitatorFilter,
    NewFacilitator,
    deactivate_facilitator,
    facilitator_history,
    get_facilitator,
    list_facilitators,
    reassign_facilitator,
    register_facilitator,
    update_facilitator,
)
from services.registration.usecases.orgunits import (
    ReferenceData,
    SeedReport,
    UnitDefinition,
    assign_province,
    define_orgunit,
    get_orgunit,
    list_orgunits,
    load_reference_data,
    seed_orgunits,
)

__all__ = [
    "Assignment",
    "Authorize",
    "AuthorizeAdmin",
    "Changes",
    "FacilitatorFilter",
    "ImportReport",
    "NewFacilitator",
    "ReferenceData",
    "RowProblem",
    "RowResult",
    "SeedReport",
    "UnitDefinition",
    "assign_province",
    "check_region_served",
    "check_speciality",
    "deactivate_facilitator",
    "define_orgunit",
    "enroll_facilitator",
    "facilitator_history",
    "get_facilitator",
    "get_orgunit",
    "get_training",
    "import_facilitators",
    "list_facilitators",
    "list_orgunits",
    "load_reference_data",
    "nik_hash",
    "phone_hash",
    "reassign_facilitator",
    "register_facilitator",
    "seed_orgunits",
    "update_facilitator",
    "withdraw_enrollment",
]
