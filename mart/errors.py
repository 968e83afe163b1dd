"""Exception classes whose messages are meant for users.

Pages and the command line show ``str(error)`` as is, so every message here is a
sentence a user can act on.
"""


class MartError(Exception):
    """Base class for every error the product reports to a user."""


class InputError(MartError):
    """The user's input was refused (bad file, bad mapping, bad option). Exit code 1."""


class ConflictError(InputError):
    """An edit was based on a dataset version that is no longer HEAD."""


class NotFoundError(InputError):
    """A named dataset, version, build or analysis does not exist."""


class BuildBusyError(MartError):
    """Another build holds the build lock."""


class SandboxError(InputError):
    """The query sandbox refused a statement or the statement failed."""
