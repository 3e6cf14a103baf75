"""Operating the bucket: its configuration for browser uploads and the end-to-end CORS check."""
