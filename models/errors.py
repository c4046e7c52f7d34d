"""The one exception type the CLI and GUI show to a user as a single line."""


class StyleCamError(Exception):
    """A user-facing failure: the message names the thing and says what to do."""


class StyleError(StyleCamError):
    """A weights file or style entry that cannot be used."""


class MediaError(StyleCamError):
    """An image or video that cannot be read or written."""
