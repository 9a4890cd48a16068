"""Web views (issue 5 builds the full queue and inquiry pages)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from inquiries import selectors


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    inquiries = selectors.inquiries_for(request.user).open()[:50]
    return render(request, "inquiries/queue.html", {"inquiries": inquiries})
