"""The browser side: sign-in, sessions and CSRF, and the customer portal, as FastAPI
routers over server-rendered Jinja2 pages (htmx, vendored in static/, only enhances)."""
