"""The networks people post to: how each counts length (`limits`), what each accepts (`validation`), and
one adapter module per network (`webhook`, `mastodon`, `x`, `linkedin`, `bluesky`)."""

from keel.apps.segmint.networks.limits import LIMITS, URL_LENGTH, fit, fits, graphemes, length

__all__ = ["LIMITS", "URL_LENGTH", "fit", "fits", "graphemes", "length"]
