"""The HTTP status of every reporting refusal: by its kind (``training_not_found`` and
``facilitator_not_found`` 404, ``unknown_table`` and ``invalid_period`` 422); no code here
answers otherwise."""

from shared.kernel.errors import ErrorTable

ERRORS = ErrorTable({})
