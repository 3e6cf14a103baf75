"""Document requests: a checklist of named items a client is asked to send, each
reviewed by staff (accepted, or sent back with a reason) until the request closes."""
