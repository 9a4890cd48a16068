"""Account health (DESIGN section 6): pure scoring, charts and plan text; the SQL in metrics.py."""
