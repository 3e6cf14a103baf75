from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Staff dashboard"

    def ready(self) -> None:
        from dashboard.signin import signals  # noqa: F401 - connects the audit receivers
        from uploader.access.cognito_pool import pool_from_settings

        # A mistyped Cognito setting stops start-up naming it, instead of failing
        # every signed-in request later.
        pool_from_settings()
