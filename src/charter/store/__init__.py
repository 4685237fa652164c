"""The control-plane store: schema, engines, migrations and transactions."""
