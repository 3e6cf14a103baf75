"""What Intake makes from stored files: thumbnails and document text, written back to S3."""
