"""signoff: AI model lifecycle governance with security built in."""

__version__ = "0.1.0"
