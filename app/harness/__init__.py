"""External harnesses: the sandbox's tools over MCP (HTTP and stdio) and corpmail as an Inspect task.

Sits at the API layer: it imports app.tools and app.services; only app.main and the CLI import it.
"""
