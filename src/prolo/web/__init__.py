"""The web application: API routes, pages, templates and static assets."""
