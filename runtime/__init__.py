"""Running the flows: the outbox relay, `tiaojie serve`'s and `tiaojie worker`'s threads, Prefect's
environment and the processes' memory. Imports the flows; no flow imports it."""
