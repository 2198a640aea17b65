"""Zigbee and Smart Energy cryptography that no library provides ready-made."""
