"""Who is calling and what they may do: roles, principals, Cognito tokens and machine clients."""
