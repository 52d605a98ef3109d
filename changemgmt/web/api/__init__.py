"""The HTTP API under /api/v1 (FastAPI), beside the feed route: web/api/app.py builds it."""
