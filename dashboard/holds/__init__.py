"""Legal holds on the staff pages: a file's and a portal's hold buttons (admins)."""
