"""Adapters to other tools (MLflow, DVC, ...): they read and write those tools, and know nothing of services."""
