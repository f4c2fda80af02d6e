"""Reusable fakes for tests (servers on 127.0.0.1 only): see `tests.fakes.openai_server`."""
