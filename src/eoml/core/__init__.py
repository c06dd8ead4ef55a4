"""Shared plumbing for every eoml study: stores, config, training engine, metrics, plotting, CLI."""
