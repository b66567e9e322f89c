"""Fixtures for the HTTP server tests: one shared server on tiny-r1 for tests that need no special flags."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from server_harness import Server  # noqa: E402


@pytest.fixture(scope="session")
def server():
    with Server() as s:
        yield s


@pytest.fixture(scope="session")
def openai_client(server):
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)
