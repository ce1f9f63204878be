"""Evaluation: re-scoring, the LLM judge, replayed checks, corpus evaluation, summaries and statistics.

Above the chokepoint: it reads the event log and may run calls through run_tool; nothing below imports it."""
