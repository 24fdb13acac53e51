"""liftshift: lift and shift containerised applications onto AWS."""

__version__ = "0.1.0"
