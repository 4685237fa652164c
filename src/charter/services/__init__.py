"""Use cases, one module each. The CLI, REST API and SDK all call these."""
