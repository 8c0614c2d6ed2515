"""The staff console: server-rendered pages, access control, live updates, the try-it pages."""
