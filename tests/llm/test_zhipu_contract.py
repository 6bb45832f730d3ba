"""Pins the fake server to the installed zhipuai SDK: same path, same fields, parseable shapes.

If the SDK changes what it sends or expects, these fail before the fake silently drifts."""

from __future__ import annotations

import inspect
import json

import pytest

zhipuai = pytest.importorskip("zhipuai")

from zhipuai.api_resource.chat import completions as sdk_completions  # noqa: E402
from zhipuai.types.chat.chat_completion import Completion  # noqa: E402
from zhipuai.types.chat.chat_completion_chunk import ChatCompletionChunk  # noqa: E402

from .fake_zhipu import BASE_PATH, chunk_json, completion_json  # noqa: E402


def test_the_sdk_posts_to_chat_completions_under_the_v4_base():
    src = inspect.getsource(sdk_completions.Completions.create)
    assert '"/chat/completions"' in src
    client_src = inspect.getsource(zhipuai.ZhipuAI.__init__)
    assert f"open.bigmodel.cn{BASE_PATH}" in client_src
    for field in ('"model"', '"messages"', '"stream"', '"max_tokens"', '"temperature"'):
        assert field in src


def test_the_sdk_sends_a_bearer_key_when_token_cache_is_off():
    src = inspect.getsource(zhipuai.ZhipuAI.auth_headers.fget)
    assert '"Authorization": f"Bearer {api_key}"' in src


def test_the_sdk_accepts_max_retries_and_timeout():
    params = inspect.signature(zhipuai.ZhipuAI.__init__).parameters
    assert "max_retries" in params and "timeout" in params and "base_url" in params


def test_fake_completion_parses_as_the_sdk_completion():
    data = json.loads(json.dumps(completion_json("你好", "glm-4.7-flash")))
    c = Completion.model_validate(data)
    assert c.choices[0].message.content == "你好" and c.usage.prompt_tokens == 42


def test_fake_chunks_parse_as_the_sdk_chunk():
    data = chunk_json("你", "glm-4.7-flash", finish="stop",
                      usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
    c = ChatCompletionChunk.model_construct(**data)
    assert set(data) <= set(ChatCompletionChunk.model_fields) | {"extra_json"}
    choice_fields = set(ChatCompletionChunk.model_fields["choices"].annotation.__args__[0].model_fields)
    assert set(data["choices"][0]) <= choice_fields
    assert c.model == "glm-4.7-flash"


def test_the_sdk_stream_ends_on_done_and_reads_data_lines():
    from zhipuai.core import _sse_client

    src = inspect.getsource(_sse_client)
    assert "'[DONE]'" in src and "data" in src
