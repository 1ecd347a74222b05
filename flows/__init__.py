"""The mediation process (see flows/process.py). Prefect runs the work; the database holds the truth."""
