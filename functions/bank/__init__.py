"""The bank domain: Nubank via pynubank's API (snapshots) and the app's exports (card CSV, NuConta CSV, OFX)."""
