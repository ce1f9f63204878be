"""The reacting world: characters that answer, scheduled events, researcher interventions (through run_tool)."""
