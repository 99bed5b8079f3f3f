"""QR codes drawn by reportlab (no network, no extra library): for PDFs and as SVG images."""

from __future__ import annotations

import base64
from typing import Any


def qr_drawing(text: str, size: float) -> Any:
    """A reportlab drawing of the QR code of ``text``, ``size`` points wide."""
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(text, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def qr_data_uri(text: str, size: int = 200) -> str:
    """The QR code as an SVG ``data:`` address for an ``<img>`` (as an image its inline styles
    are not the page's, which the CSP keeps to files)."""
    from reportlab.graphics import renderSVG

    svg = renderSVG.drawToString(qr_drawing(text, size))
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
