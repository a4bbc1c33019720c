"""HTTP routes: ``api`` (REST, JSON, /api/v1) and ``pages`` (server-rendered pages, a later issue)."""
