"""The SDK surface is curated: what charter exports is deliberate."""

from __future__ import annotations

import charter


def test_exported_members() -> None:
    assert charter.__all__ == sorted(charter.__all__)
    assert charter.__all__ == ["Charter", "CharterError", "Settings", "__version__", "connect", "load_settings"]
    for name in charter.__all__:
        assert hasattr(charter, name)
