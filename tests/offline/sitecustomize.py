"""Loaded at start-up by every Python process whose PYTHONPATH holds this folder: the network guard."""

import netguard

netguard.install()
