"""The one place LiteLLM is configured, loaded lazily (importing this package does not import it).

`litellm()` returns the configured module: local cost map, no debug banner, and the offline
providers `scripted/<policy>` and `scriptedjudge/<name>` registered so they resolve like any
provider. Call it where a model is actually called or checked, never at import time.
"""

from __future__ import annotations

import os
from functools import cache
from types import ModuleType

PROVIDERS = ("scripted", "scriptedjudge")


@cache
def litellm() -> ModuleType:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm as lib
    from litellm.utils import custom_llm_setup

    from app.llm.scripted import ScriptedLLM
    from app.llm.scripted_judge import ScriptedJudge

    lib.suppress_debug_info = True
    for name, handler in (("scripted", ScriptedLLM), ("scriptedjudge", ScriptedJudge)):
        if not any(p.get("provider") == name for p in lib.custom_provider_map):
            lib.custom_provider_map = [
                *lib.custom_provider_map,
                {"provider": name, "custom_handler": handler()},
            ]
    custom_llm_setup()  # so model-string checks (get_llm_provider) know them before any call
    return lib


def is_offline(model: str) -> bool:
    """A scripted model or judge: runs with no provider, no key and no network."""
    return model.split("/", 1)[0] in PROVIDERS


def warm() -> None:
    """Load LiteLLM and what its first call through a provider loads (seconds of imports): run it in a
    thread before playing, so no event loop waits on it."""
    litellm()
