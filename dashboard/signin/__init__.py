"""Signing staff in and out (Cognito through mozilla-django-oidc, or the local password form)."""
