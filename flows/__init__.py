"""The mediation process (see flows/process.py). Prefect runs the work; the database holds the truth."""

from flows import prefect_env  # noqa: F401  (must run before anything imports prefect)
