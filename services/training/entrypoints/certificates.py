"""Printable certificates and the human-readable verification page (Bahasa Indonesia):

* ``GET /certificates/{code}``: the public verification page, the URL each certificate's QR code
  encodes; a revoked certificate shows as DICABUT with the date and the reason; 404 page otherwise.
* ``GET /api/v1/certificates/{code}/pdf``: the certificate as a PDF, public like the JSON
  verification (``/api/v1/certificates/{code}``); 410 ``certificate_revoked`` for a revoked one.
* ``GET /api/v1/trainings/{training_id}/certificates.pdf``: every valid certificate of a training,
  a page each, for printing; for a reader of the training's region (national and admin read all).

Printed URLs come from the ``KOTAKU_PUBLIC_BASE_URL`` setting, never from the request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.training.domain.errors import CertificateNotFound
from services.training.entrypoints import certificate_document as doc
from services.training.entrypoints import runtime as wiring
from services.training.repositories.certificates import PostgresHolders
from services.training.usecases import certificates
from services.training.usecases.certificates import Printable
from shared.kernel.auth import Caller, ensure_may_read
from shared.kernel.runtime import Runtime, current_runtime

router = APIRouter(prefix="/api/v1", tags=["certificates"])
pages = APIRouter(tags=["certificates"])
RuntimeDep = Annotated[Runtime, Depends(current_runtime)]

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.globals.update(
    day_of=doc.day_of,
    date_range=doc.indonesian_date_range,
    role_label=doc.role_label,
    training_type_label=doc.training_type_label,
    region_label=doc.region_label,
)

# The page holds a person's name: not cached by intermediaries, not indexed, nothing loaded from
# elsewhere, never framed.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
PDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "the PDF, a page per certificate"},
}


def _holders(runtime: Runtime) -> PostgresHolders:
    return PostgresHolders(runtime.pool)


class PdfCache:
    """The PDFs of single certificates made lately, by everything printed on them: the holder as
    read (name, role, revocation), the training's version (every change of a training bumps it) and
    the base URL. A PDF takes about 0.1 s of CPU and anyone who knows a code may ask for it, so
    asking again for the same one costs nothing; unknown codes never get this far."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, bytes] = OrderedDict()

    def get(self, key: Hashable) -> bytes | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: Hashable, content: bytes) -> None:
        self.entries[key] = content
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


SINGLE_PDFS = PdfCache()


async def _render(items: Sequence[Printable], base_url: str) -> bytes:
    return await asyncio.to_thread(doc.certificates_pdf, items, base_url)


def _pdf_response(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            # a certificate revoked later must not be served from a cache
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/certificates/{code}/pdf",
    response_class=Response,
    summary="A certificate as a printable PDF (public, no credential)",
    responses={
        **PDF_RESPONSES,
        404: {"description": "certificate_not_found"},
        409: {"description": "participant_name_unknown: the holder's name has not reached training yet"},
        410: {"description": "certificate_revoked: a revoked certificate is not printed"},
    },
)
async def certificate_pdf(code: str, runtime: RuntimeDep) -> Response:
    item = await certificates.printable(wiring.reads(runtime), _holders(runtime), code)
    base_url = runtime.settings.public_base_url
    key = (item.holder, item.training.training_id, item.training.version, base_url)
    content = SINGLE_PDFS.get(key)
    if content is None:
        content = await _render([item], base_url)
        SINGLE_PDFS.put(key, content)
    return _pdf_response(content, f"sertifikat-{item.holder.code}.pdf")


@router.get(
    "/trainings/{training_id}/certificates.pdf",
    response_class=Response,
    summary="Every valid certificate of a training as one PDF, a page each, for printing",
    responses={
        **PDF_RESPONSES,
        403: {"description": "region_forbidden"},
        404: {"description": "training_not_found, no_valid_certificates"},
        409: {"description": "participant_name_unknown: some holders' names have not reached training yet"},
    },
)
async def training_certificates_pdf(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> Response:
    items = await certificates.printable_of_training(
        wiring.reads(runtime), _holders(runtime), training_id, partial(ensure_may_read, caller)
    )
    content = await _render(items, runtime.settings.public_base_url)
    return _pdf_response(content, f"sertifikat-{training_id}.pdf")


@pages.get(
    "/certificates/{code}",
    response_class=HTMLResponse,
    summary="The verification page of a certificate, in Bahasa Indonesia (public; the URL of its QR code)",
    responses={404: {"description": "no certificate has this code (an HTML page)", "content": {"text/html": {}}}},
)
async def certificate_page(code: str, runtime: RuntimeDep) -> HTMLResponse:
    template = TEMPLATES.get_template("certificate.html")
    try:
        found = await certificates.verification(wiring.reads(runtime), _holders(runtime), code)
    except CertificateNotFound:
        return HTMLResponse(template.render(c=None), status_code=404, headers=PAGE_HEADERS)
    canonical = found.holder.code
    # relative to the page, so that they hold behind a proxy that serves the service under a path
    html = template.render(
        c=found,
        pdf_path=f"../api/v1/certificates/{canonical}/pdf",
        json_path=f"../api/v1/certificates/{canonical}",
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)
