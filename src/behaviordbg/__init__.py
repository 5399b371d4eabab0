"""behaviordbg: debug what a language model says about itself."""

__version__ = "0.1.0"
