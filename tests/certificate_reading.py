"""Reading printed certificates back as a verifier would: the text of each page of a PDF (pypdf),
and the QR codes of each page, decoded from the page's images (zxing-cpp). No tests here."""

from __future__ import annotations

import io

import zxingcpp
from pypdf import PdfReader


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def pages_qr_codes(pdf: bytes) -> list[list[str]]:
    """Per page, the text of every QR code found in its images."""
    out = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        found = []
        for image in page.images:
            if image.image is None:
                continue
            codes = zxingcpp.read_barcodes(image.image)
            found += [code.text for code in codes if code.format == zxingcpp.BarcodeFormat.QRCode]
        out.append(found)
    return out
