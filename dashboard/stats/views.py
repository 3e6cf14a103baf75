"""The stats page: what arrived over the last 7, 30 or 90 days. Thin: parse the
period, read through dashboard.stats.selectors, render; static/intake/stats.js draws
the charts from the same numbers the tables show."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import page_requires
from dashboard.stats import selectors as stats_selectors
from uploader.access.roles import Permission


@page_requires(Permission.BROWSE)
def stats_page(request: HttpRequest) -> HttpResponse:
    period = stats_selectors.period_from(request.GET.get("days"))
    stats = stats_selectors.upload_stats(user=request.user, period=period)
    return render(
        request,
        "dashboard/stats.html",
        {
            "stats": stats,
            "period": period,
            "period_choices": stats_selectors.PERIOD_DAYS_CHOICES,
            "chart_data": stats.chart_data(),
        },
    )
