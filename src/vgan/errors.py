"""User-facing errors. Each message is one line: the problem, then the fix."""


class VGANError(Exception):
    """Base class; the CLI prints these as one line and exits with status 2."""


class ConfigError(VGANError):
    """An unknown config key, a wrong value type or an invalid value."""


class DataError(VGANError):
    """A missing, corrupt or truncated dataset file."""


class CheckpointError(VGANError):
    """A missing, truncated or foreign checkpoint."""


class TrainingError(VGANError):
    """Training cannot go on, e.g. a loss became NaN or inf."""
