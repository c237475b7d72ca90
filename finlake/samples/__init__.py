"""Offline sources per domain: generated sample files and recorded or generated HTTP answers, one adapter each."""
