from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from shared.kernel.http import ApiError, BodyLimitMiddleware, install_error_handlers


class Item(BaseModel):
    name: str


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=1000)

    @app.post("/items")
    async def create(item: Item) -> dict[str, str]:
        if item.name == "taken":
            raise ApiError(409, "name_taken", "that name is taken", {"name": item.name})
        if item.name == "bug":
            raise RuntimeError("boom")
        return {"name": item.name}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_bodies_over_the_limit_are_refused_with_413(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/items", content=b'{"name": "' + b"a" * 2000 + b'"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json() == {"error": {"code": "body_too_large", "message": "request bodies are limited to 1000 bytes"}}


async def test_streamed_bodies_without_length_are_counted_too(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"a" * 100
        yield b'"}'

    r = await client.post("/items", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_errors_share_one_machine_readable_shape(client: httpx.AsyncClient) -> None:
    r = await client.post("/items", json={"name": "taken"})
    assert r.status_code == 409
    assert r.json() == {"error": {"code": "name_taken", "message": "that name is taken", "details": {"name": "taken"}}}
    r = await client.post("/items", json={"nome": 1})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["details"][0]["field"] == "body.name"
    r = await client.get("/nowhere")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_a_bug_is_a_500_without_internals(client: httpx.AsyncClient) -> None:
    r = await client.post("/items", json={"name": "bug"})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "an internal error occurred"}}
