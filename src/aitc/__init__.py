"""aitc: design, simulate, plan and operate a shared AI supercomputer."""

__version__ = "0.1.0"
