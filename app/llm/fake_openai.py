"""A fake OpenAI-compatible model server for tests and benchmarks: /v1/chat/completions answers with
tool calls from a scripted policy (app.llm.script), after a configurable latency, with injected
trouble — 429 with Retry-After, 500, timeouts (a hang), malformed tool-call JSON, NUL characters.

The policy is `--policy`, else the request's model: `openai/<policy>` or `openai/<scenario>/<policy>`
(policies are looked up in that scenario's folder, then the built-in ones). Run it with
`python -m app.llm.fake_openai --port 8999 --latency 0.2 --every 5 --kinds 429,500`, or from a test
with `FakeOpenAI(...)` as a context manager (a thread)."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.core.config import REPO_ROOT
from app.llm.script import PolicyError, load_policy, respond

KINDS = ("429", "500", "timeout", "malformed", "nul")


@dataclass
class Faults:
    kinds: list[str] = field(default_factory=list)  # which faults to inject, cycled through
    first: int = 0  # the first N requests get a fault
    every: int = 0  # then every Nth request
    rate: float = 0.0  # and each other request with this probability (seeded)
    retry_after: float = 1.0  # seconds, sent with 429
    hang: float = 30.0  # how long a "timeout" request hangs before answering
    seed: int = 0


@dataclass
class FakeConfig:
    policy: str | None = None
    scenarios_dir: Path = REPO_ROOT / "sandbox_data" / "scenarios"
    latency: float = 0.0
    faults: Faults = field(default_factory=Faults)


class FakeState:
    def __init__(self, config: FakeConfig):
        self.config = config
        self.requests = 0
        self.served: Counter = Counter()  # "ok" and each fault kind
        self.bodies: list[dict] = []  # the most recent request bodies (for tests)
        self.rng = random.Random(config.faults.seed)
        self.lock = threading.Lock()

    def fault_for_next(self) -> str | None:
        f = self.config.faults
        with self.lock:
            self.requests += 1
            i = self.requests
            if not f.kinds:
                return None
            if i <= f.first:
                return f.kinds[(i - 1) % len(f.kinds)]
            if f.every and i % f.every == 0:
                return f.kinds[(i // f.every - 1) % len(f.kinds)]
            if f.rate and self.rng.random() < f.rate:
                return self.rng.choice(f.kinds)
        return None


def _policy(config: FakeConfig, model: str):
    name = config.policy or model.removeprefix("openai/")
    scenario, _, policy = name.rpartition("/")
    folder = config.scenarios_dir / scenario if scenario else None
    return load_policy(policy, folder if folder and folder.is_dir() else None)


def _spoil(answer: dict, kind: str) -> None:
    msg = answer["choices"][0]["message"]
    calls = msg.get("tool_calls") or []
    if kind == "malformed" and calls:
        calls[0]["function"]["arguments"] = calls[0]["function"]["arguments"][:-1] + ', "to": [\n'
    elif kind == "nul":  # in the words, and in the first string argument (else raw, before the JSON)
        msg["content"] = (msg.get("content") or "") + "\u0000 done\u0000"
        for c in calls:
            c["function"]["arguments"] = _with_nul(c["function"]["arguments"])


def _with_nul(arguments: str) -> str:
    try:
        args = json.loads(arguments)
    except ValueError:
        return "\u0000" + arguments
    key = next((k for k, v in args.items() if isinstance(v, str)), None) if isinstance(args, dict) else None
    if key is None:
        return "\u0000" + arguments
    args[key] += "\u0000"
    return json.dumps(args)


def create_fake(config: FakeConfig | None = None) -> FastAPI:
    state = FakeState(config or FakeConfig())
    api = FastAPI(title="fake OpenAI-compatible server")
    api.state.fake = state

    @api.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": "scripted", "object": "model"}]}

    @api.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        state.bodies = [*state.bodies[-99:], body]
        kind = state.fault_for_next()
        if state.config.latency:
            await asyncio.sleep(state.config.latency)
        if kind == "429":
            state.served[kind] += 1
            return JSONResponse(
                {
                    "error": {
                        "message": "rate limited (injected)",
                        "type": "rate_limit_error",
                        "code": "rate_limit",
                    }
                },
                status_code=429,
                headers={"retry-after": f"{state.config.faults.retry_after:g}"},
            )
        if kind == "500":
            state.served[kind] += 1
            return JSONResponse(
                {"error": {"message": "server error (injected)", "type": "server_error"}}, status_code=500
            )
        if kind == "timeout":
            state.served[kind] += 1
            await asyncio.sleep(state.config.faults.hang)
        try:
            answer = respond(_policy(state.config, body.get("model", "")), body.get("messages") or [])
        except PolicyError as exc:
            return JSONResponse(
                {"error": {"message": str(exc), "type": "invalid_request_error"}}, status_code=400
            )
        if kind in ("malformed", "nul"):
            _spoil(answer, kind)
        state.served[kind if kind in ("malformed", "nul") else "ok"] += 1
        answer.update(
            id=f"chatcmpl-{secrets.token_hex(6)}",
            object="chat.completion",
            created=int(time.time()),
            model=body.get("model", "fake"),
        )
        return answer

    return api


class FakeOpenAI:
    """The fake server on a free loopback port, in a thread; `url` is its /v1 base, `state` its counters."""

    def __init__(self, config: FakeConfig | None = None, port: int = 0):
        import socket

        import uvicorn

        self.app = create_fake(config)
        self.state: FakeState = self.app.state.fake
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    ap = argparse.ArgumentParser(prog="python -m app.llm.fake_openai", description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8999)
    ap.add_argument("--policy", help="Scripted policy for every request (default: from the model name)")
    ap.add_argument("--scenarios-dir", type=Path, default=FakeConfig.scenarios_dir)
    ap.add_argument("--latency", type=float, default=0.0, help="Seconds before each answer")
    ap.add_argument("--kinds", default="", help=f"Faults to inject, comma-separated: {', '.join(KINDS)}")
    ap.add_argument("--first", type=int, default=0, help="The first N requests get a fault")
    ap.add_argument("--every", type=int, default=0, help="Every Nth request gets a fault")
    ap.add_argument("--rate", type=float, default=0.0, help="Probability of a fault on any other request")
    ap.add_argument("--retry-after", type=float, default=1.0)
    ap.add_argument("--hang", type=float, default=30.0, help="Seconds a 'timeout' request hangs")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    kinds = [k for k in a.kinds.split(",") if k]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        ap.error(f"--kinds: {bad[0]!r} is not one of {', '.join(KINDS)}")
    faults = Faults(kinds, a.first, a.every, a.rate, a.retry_after, a.hang, a.seed)
    config = FakeConfig(a.policy, a.scenarios_dir, a.latency, faults)
    print(f"fake OpenAI-compatible server on http://127.0.0.1:{a.port}/v1", flush=True)
    uvicorn.run(create_fake(config), host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
