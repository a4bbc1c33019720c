"""Server-rendered pages (Jinja2 + HTMX): added by the web-app issue. Forms must carry the CSRF
token from :func:`levier.web.security.csrf_token_for` and post it as ``csrf_token``."""
