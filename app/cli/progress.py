"""`corpmail run`'s progress on stderr: the episode id and where to watch it at the start, then one
line per model turn (its tool calls and what the monitor found), read from the event log as it grows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class TurnLines:
    """Folds events into one line per turn; a turn's line is emitted when the next turn (or the end) comes."""

    def __init__(self, emit: Callable[[str], None]):
        self.emit = emit
        self.turn: int | None = None
        self.parts: list[str] = []
        self.says = ""

    def feed(self, p: dict) -> None:
        kind = p.get("kind")
        if kind == "model_turn":
            self.flush()
            self.turn, self.parts, self.says = p.get("turn"), [], (p.get("text") or "").strip()
        elif kind == "model_error":
            self.flush()
            self.emit(f"turn {p.get('turn')}: model error: {str(p.get('error'))[:200]}")
        elif kind == "tool_call":
            self.parts.append(str(p.get("tool")))
        elif kind == "tool_result" and not p.get("ok") and self.parts:
            self.parts[-1] += f" (error: {(p.get('error') or {}).get('type', '?')})"
        elif kind == "monitor_verdict" and p.get("labels") and self.parts:
            harmful = any(x.get("harmful") for x in p.get("evidence") or [])
            self.parts[-1] += f" → {p.get('decision')} {','.join(p['labels'])}" + (
                " HARMFUL" if harmful else ""
            )
        elif kind == "approval_decided":
            self.parts.append(f"{p.get('tool')} {p.get('decision')} by {p.get('by')}")
        elif kind == "episode_finished":
            self.flush()
            self.emit(f"finished: {p.get('status')} after {p.get('turns')} turn(s)")

    def flush(self) -> None:
        if self.turn is None:
            return
        what = ", ".join(self.parts) if self.parts else "no tool call"
        said = (
            f' · says "{self.says[:60]}{"…" if len(self.says) > 60 else ""}"'
            if self.says and not self.parts
            else ""
        )
        self.emit(f"turn {self.turn}: {what}{said}")
        self.turn = None


async def follow(engine, episode_id: str, lines: TurnLines, done: asyncio.Event, every: float = 0.2) -> None:
    """Read the episode's new events every `every` seconds until `done`, feeding them to `lines`."""
    from app.core.db import new_session
    from app.events import store

    after = 0
    while True:
        finished = done.is_set()
        with new_session(engine) as session:
            for e in store.read(session, episode_id, after):
                after = e.seq
                lines.feed(e.payload)
        if finished:
            return
        try:
            await asyncio.wait_for(done.wait(), every)
        except TimeoutError:
            pass
