"""Client portals: links, limits, branding and the pages a client sees."""
