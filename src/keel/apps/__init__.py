"""Product apps built on the Keel core."""
