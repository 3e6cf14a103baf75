"""The document requests API under /api/requests (views, forms, answers, its part of the
OpenAPI document); mounted by config.urls beside the upload API, which knows nothing of it."""
