"""The one way StyleCam imports OpenVINO: with its telemetry package never loaded.

`import openvino` also imports its model converter (`openvino.tools.ovc`), whose
`__init__` starts the `openvino-telemetry` package and sends an "import" event. With no consent
file in `~/intel/` that package takes consent as given: it writes a client ID and a usage counter
(`~/intel/openvino_ga_cid`, `~/intel/stats`) and resolves and contacts its analytics host. A
webcam app must not do either.

Every OpenVINO module that uses the telemetry imports it in `try: import openvino_telemetry
... except ImportError:` and falls back to `openvino.tools.ovc.telemetry_stub`, whose methods do
nothing. So the switch that holds for every user, whatever is in their home folder or their
environment, is to make that import fail: a `None` in `sys.modules` does exactly that, for this
process only, before OpenVINO is first imported. Environment switches (`CI=true`, a consent file
with "0") were not used: the first changes other libraries' behaviour too, the second writes to
the user's home.

`models/backends.py` imports OpenVINO only through `load()`; tests/test_privacy.py checks that
stylizing and training make no network call and write nothing to HOME.
"""

from __future__ import annotations

import sys
from types import ModuleType

TELEMETRY_MODULES = ("openvino_telemetry", "openvino_telemetry.backend")


def block_telemetry() -> None:
    """Make `import openvino_telemetry` fail in this process (OpenVINO then uses its no-op stub)."""
    for name in TELEMETRY_MODULES:
        # None in sys.modules is Python's own "this import fails"; one already loaded by another
        # library before us cannot be unloaded, so it is left alone
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def load() -> ModuleType:
    """`openvino`, imported with its telemetry blocked; ImportError when it is not installed."""
    block_telemetry()
    import openvino

    return openvino
