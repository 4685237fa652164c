"""Charter: an open-source AI governance control plane for machine learning in production.

The SDK surface grows with each part of the governance loop; what is exported
here is deliberate and tested.
"""

from charter.config import Settings, load_settings
from charter.errors import CharterError
from charter.version import version as _version

__version__ = _version()

__all__ = ["CharterError", "Settings", "__version__", "load_settings"]
