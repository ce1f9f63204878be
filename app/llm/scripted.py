"""The `scripted/<policy>` LiteLLM custom provider: plays app.llm.script policies (offline)."""

from __future__ import annotations

from litellm import CustomLLM, ModelResponse

from app.llm.script import load_policy, respond


class ScriptedLLM(CustomLLM):
    def _play(self, model: str, messages: list[dict], litellm_params: dict | None) -> ModelResponse:
        meta = ((litellm_params or {}).get("metadata") or {}).get("corpmail") or {}
        response = ModelResponse(**respond(load_policy(model, meta.get("scenario_dir") or None), messages))
        response._hidden_params["response_cost"] = 0.0  # a script costs nothing: LiteLLM need not price it
        return response

    def completion(self, model, messages, *args, litellm_params=None, **kwargs) -> ModelResponse:
        return self._play(model, messages, litellm_params)

    async def acompletion(self, model, messages, *args, litellm_params=None, **kwargs) -> ModelResponse:
        return self._play(model, messages, litellm_params)
