"""The Patch rollouts page: pure page model and HTML (model, render, links), I/O in gather, a thin FastAPI shell in app.

Only `app` imports Airflow, and only `gather` talks to AWS; everything else is
plain data in, plain data (or HTML text) out, and is tested without a server.
"""
