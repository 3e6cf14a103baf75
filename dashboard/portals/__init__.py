"""Staff pages for client portals."""
