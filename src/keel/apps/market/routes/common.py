"""What every market Controller declares."""

SECURITY = [{"BearerToken": []}]
TAGS = ["market"]
