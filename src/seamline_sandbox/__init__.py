"""Faithful local simulators of Centra and BlueCherry. Never imported by ``seamline``."""
