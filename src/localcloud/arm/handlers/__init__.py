"""One module per resource provider; each exposes `ROUTES`."""
