"""The `scripted/<policy>` LiteLLM custom provider: plays app.llm.script policies (offline)."""

from __future__ import annotations

from pathlib import Path

from litellm import CustomLLM, ModelResponse

from app.llm.script import load_policy, respond


class ScriptedLLM(CustomLLM):
    def _play(self, model: str, messages: list[dict], litellm_params: dict | None) -> ModelResponse:
        meta = ((litellm_params or {}).get("metadata") or {}).get("corpmail") or {}
        scenario_dir = Path(meta["scenario_dir"]) if meta.get("scenario_dir") else None
        return ModelResponse(**respond(load_policy(model, scenario_dir), messages))

    def completion(self, model, messages, *args, litellm_params=None, **kwargs) -> ModelResponse:
        return self._play(model, messages, litellm_params)

    async def acompletion(self, model, messages, *args, litellm_params=None, **kwargs) -> ModelResponse:
        return self._play(model, messages, litellm_params)
