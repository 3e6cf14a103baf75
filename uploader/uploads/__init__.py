"""Uploads: the model, the state machine's one writer, services, selectors, keys, limits and checksums."""
