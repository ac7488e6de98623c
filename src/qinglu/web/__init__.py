"""The FastAPI application: JSON API under /api/v1 and the web pages."""
