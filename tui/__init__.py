"""freq-tui's Textual application. Everything headless lives in lstm_core."""
