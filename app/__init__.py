"""The desktop app (PySide6 only lives here): window, widgets, the controller that owns the
capture, inference and recording workers, and settings. Built on `models/`, never imported by it."""
