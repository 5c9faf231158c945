"""Data sources: each fetches raw records and maps them to Transfers; none of them stores anything."""
