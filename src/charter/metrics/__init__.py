"""Pure metric kernels: drift, quality, performance, fairness, anomalies. No I/O, no database."""
