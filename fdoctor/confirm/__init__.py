"""Residents as verifiers: a signed link (QR code on the agreement and on a visit receipt) opens a
small page where residents confirm or deny the visits recorded for them and rate the service."""
