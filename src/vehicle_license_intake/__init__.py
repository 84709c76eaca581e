"""vehicle-license-intake: photos of Chinese vehicle driving licenses (行驶证) to trusted data."""

__version__ = "0.1.0"
