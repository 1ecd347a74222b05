"""Operations on a whole installation: backup and restore, the demo world. Imports the flows; no flow
imports it."""
