"""Panels the apps add to the role home pages, so the kernel composes a page without importing an app.

An app registers a `HomePanel` from its `register()`: for one role, a template and a function giving
that template its context for the signed-in user. The home view renders the role's panels in the
order the apps registered them (INSTALLED_APPS) and the role's home template places them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from core.models import User


@dataclass(frozen=True)
class HomePanel:
    """One section of a role's home page, owned by an app."""

    role: str
    template: str
    context: Callable[[User], dict[str, Any]]


_panels: list[HomePanel] = []


def home_panel_register(panel: HomePanel) -> None:
    """Add a panel to its role's home page (registering the same panel again changes nothing)."""
    if panel not in _panels:
        _panels.append(panel)


def home_panels_render(*, request: HttpRequest, user: User) -> list[SafeString]:
    """The HTML of every panel of the user's role, in registration order."""
    # Each panel's template escaped what it rendered; the page places the HTML as it is.
    return [
        mark_safe(render_to_string(panel.template, panel.context(user), request=request))
        for panel in _panels
        if panel.role == user.role
    ]
