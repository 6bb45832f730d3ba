"""One exception tree for the whole app.

Library errors are translated into these at the boundary where they happen (a channel adapter,
an LLM backend, the store); only the CLI and the TUI turn them into words for the merchant.
"""


class Alpha01Error(Exception):
    """Base of every error the app raises on purpose."""

    exit_code = 1


class ConfigError(Alpha01Error):
    """The settings file or an option is wrong. The message names the key."""

    exit_code = 2


class HomeError(Alpha01Error):
    """The home directory cannot be created, read or written."""

    exit_code = 3


class StorageError(Alpha01Error):
    """The database cannot be opened or migrated."""

    exit_code = 4


class SchemaTooNewError(StorageError):
    """The database was written by a newer alpha01 than this one."""


class InputError(Alpha01Error):
    """A message, file or argument is not acceptable (too large, empty, malformed)."""

    exit_code = 2


class BackendNotFound(Alpha01Error):
    """No channel, LLM backend or embedder is registered under the requested name."""

    exit_code = 2


class ChannelError(Alpha01Error):
    """The channel (WeChat window, console, web) failed. Base of the channel errors."""


class ChannelUnavailable(ChannelError):
    """The channel cannot be used right now (window lost, logged out); retry later."""


class SendFailed(ChannelError):
    """A send was attempted and the channel says it did not go out."""


class LLMError(Alpha01Error):
    """A model backend failed. Base of the model errors."""


class LLMUnavailable(LLMError):
    """The backend cannot serve at all (no model file, offline, circuit open)."""


class LLMTimeout(LLMError):
    """The backend did not finish before its deadline."""


class KnowledgeError(Alpha01Error):
    """The knowledge base cannot be read or written."""
