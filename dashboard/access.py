"""Page-level access: who may open which staff page.

The services check permissions again (uploader.access.roles.require_permission); this is
what turns "not allowed" into a page a person understands instead of an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from uploader.access.roles import Permission, has_permission, role_of

View = Callable[..., HttpResponseBase]  # streamed answers (CSV export) included


def render_no_access(request: HttpRequest, *, reason: str, who: str = "", status: int = 403) -> HttpResponse:
    return render(request, "registration/no_access.html", {"reason": reason, "who": who}, status=status)


def page_requires(permission: Permission) -> Callable[[View], View]:
    """Signed out → the sign-in page (coming back here after); signed in without a
    role → the no-access page; a role without this permission → 403 saying so."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if role_of(user) is None:
                return render_no_access(request, reason="no_role", who=user.get_username())
            if not has_permission(user, permission):
                return render_no_access(request, reason="not_permitted", who=user.get_username())
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
