"""The Jinja2 environment every HTML page of patchflow is rendered with.

The markup lives in patchflow/core/templates/*.html (shipped as package data). Autoescaping
is on for those files, so a value from a plan, the fleet or the ledger always reaches the
page as text and never as markup: no code path has to remember to escape it.
"""
from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

TEMPLATES = Environment(
    loader=PackageLoader("patchflow.core", "templates"),
    autoescape=select_autoescape(["html"]),
    # A misspelt field fails the render instead of quietly leaving a blank on the page.
    undefined=StrictUndefined,
    # The templates put block tags on lines of their own for reading; these keep those
    # lines out of the output, so the pages come out as compact as the markup they replaced.
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_template(name: str, **context) -> str:
    return TEMPLATES.get_template(name).render(**context)


def template_macros(name: str):
    """The macros of one template, callable from Python; each returns escaped markup."""
    return TEMPLATES.get_template(name).module
