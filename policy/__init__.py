"""The formkiq-backup CrossGuard policy pack: rules in `policy.rules`, wiring in `__main__`."""
