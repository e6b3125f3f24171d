"""The admin's and the public's HTTP routes, framework-neutral, and the FastAPI adapter for them.

The top layer with the hooks and the CLI: uses the runtime and everything below it.
"""
