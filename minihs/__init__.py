"""minihs: a small Matrix homeserver for client development and test suites."""

__version__ = "0.1.0"
