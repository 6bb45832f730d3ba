"""Schema-driven fuzzing shared by the sync server and web chat suites: every operation of an
OpenAPI document (schemathesis generates the cases, hypothesis drives them, a fixed number of
examples each) is called over real HTTP, and no answer may be a 5xx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings


def fuzz(schema: Any, base_url: str, *, examples: int,
         call_kwargs: Callable[[Any], dict[str, Any]] = lambda case: {},
         skip: Callable[[Any], bool] = lambda op: False) -> dict[str, int]:
    """Run every operation of `schema`, with valid and invalid inputs (schemathesis' positive
    and negative modes); returns cases per operation. Raises AssertionError with the method,
    path and body of the first 5xx."""
    from schemathesis import GenerationMode

    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    counts: dict[str, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        if skip(op):
            continue
        label = f"{op.method.upper()} {op.path}"
        counts[label] = 0
        _run(op, label, base_url, examples, call_kwargs, counts)
    return counts


def _run(op: Any, label: str, base_url: str, examples: int,
         call_kwargs: Callable[[Any], dict[str, Any]], counts: dict[str, int]) -> None:
    @given(case=op.as_strategy())
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def one(case):
        response = case.call(base_url=base_url, timeout=10, **call_kwargs(case))
        counts[label] += 1
        assert response.status_code < 500, (label, case.body, case.query,
                                            response.status_code, response.text[:300])

    one()
