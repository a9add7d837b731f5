"""National reporting: read models built from every region's events, served as JSON."""
