"""The small server-rendered pages behind the links in every email (templates/pages/),
sent so that the token in their URL goes nowhere else: no referrer, no cache, no
third-party resource, never framed."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

import changemgmt

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    folder = Path(changemgmt.__file__).resolve().parents[1] / "templates" / "pages"
    return Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(name: str, status: int = 200, **context) -> HTMLResponse:
    html = _environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
