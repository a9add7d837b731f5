"""Domain errors reach HTTP clients with the status of the service's table and Kafka senders with
the same code."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.kernel.errors import Conflict, DomainError, ErrorTable, Forbidden, Invalid, NotFound
from shared.kernel.http import install_error_handlers


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("facilitator_not_found", "no such facilitator"), 404),
        (Conflict("facilitator_exists", "already registered"), 409),
        (Invalid("speciality_not_allowed", "no"), 422),
        (Forbidden("region_forbidden", "not yours"), 403),
        (DomainError("something_else", "plain"), 422),
        (Conflict("training_full", "full"), 422),  # the table names this code itself
    ],
)
def test_the_table_gives_each_domain_error_its_status(error: DomainError, status: int) -> None:
    assert ErrorTable({"training_full": 422}).status(error) == status


def test_an_endpoint_that_raises_a_domain_error_answers_with_its_code() -> None:
    app = FastAPI()
    install_error_handlers(app, ErrorTable({"training_full": 422}))

    @app.get("/full")
    async def full() -> None:
        raise Conflict("training_full", "the training is full", {"capacity": 30})

    response = TestClient(app).get("/full")
    assert response.status_code == 422
    assert response.json() == {
        "error": {"code": "training_full", "message": "the training is full", "details": {"capacity": 30}}
    }
