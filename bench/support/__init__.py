"""Helpers of the benchmarks: a generated inventory, a loopback SendGrid, measured phases."""
