"""Reading input files into documents and quarantine rows (the runner's job, not a stage's)."""
