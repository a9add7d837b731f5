"""The HTTP status of every training refusal: by its kind (404, 409, 422, 403), except the codes
listed here, whose status differs from their kind's."""

from services.training.domain.errors import CERTIFICATE_REVOKED, CLASS_IN_USE
from shared.kernel.errors import ErrorTable

ERRORS = ErrorTable(
    {
        CLASS_IN_USE: 422,  # a Conflict, answered 422 since the first version of the API
        CERTIFICATE_REVOKED: 410,  # a Conflict: the certificate existed and is gone for good
    }
)
