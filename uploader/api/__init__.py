"""The JSON API: the Companion-compatible upload contract, the read API and their OpenAPI document."""
