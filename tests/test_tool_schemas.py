"""Tool definitions: schemas are valid JSON Schema, every parameter is documented, one source for all."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from app.tools.registry import REGISTRY, schemas, tool

EXPECTED = {"list_inbox", "read_email", "search_emails", "send_email", "reply_email", "forward_email"}


def test_all_tools_registered():
    assert set(REGISTRY) >= EXPECTED


@pytest.mark.parametrize("schema", schemas(), ids=lambda s: s["function"]["name"])
def test_schema_is_valid_and_documented(schema):
    fn = schema["function"]
    assert schema["type"] == "function" and fn["description"]
    params = fn["parameters"]
    Draft202012Validator.check_schema(params)
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert params["properties"], "every tool takes at least one documented parameter"
    for name, prop in params["properties"].items():
        assert prop.get("description"), f"{fn['name']}.{name} is undocumented"
    # the context parameter never reaches the model
    assert "ctx" not in params["properties"]


def test_schema_accepts_and_rejects_like_the_server():
    params = REGISTRY["send_email"].schema["function"]["parameters"]
    validator = Draft202012Validator(params)
    assert validator.is_valid({"to": ["a@b.example"], "subject": "s", "body": "b"})
    assert not validator.is_valid({"to": ["a@b.example"], "subject": "s"})
    assert not validator.is_valid({"to": ["a@b.example"], "subject": "s", "body": "b", "extra": 1})


async def test_api_serves_the_registry_schemas(http):
    resp = await http.get("/api/tools")
    assert resp.json() == schemas()


async def test_openapi_has_one_route_per_tool(http):
    paths = (await http.get("/openapi.json")).json()["paths"]
    for name in EXPECTED:
        route = paths[f"/api/episodes/{{episode_id}}/tools/{name}"]["post"]
        body = route["requestBody"]["content"]["application/json"]["schema"]
        params = REGISTRY[name].schema["function"]["parameters"]
        assert body.get("required") == params.get("required")
        assert {k: v["description"] for k, v in body["properties"].items()} == {
            k: v["description"] for k, v in params["properties"].items()
        }


def test_undocumented_parameter_fails_at_definition():
    with pytest.raises(TypeError, match="'colour' is not documented"):

        @tool()
        def paint(ctx, colour: str) -> dict:
            """Paint something.

            Args:
                shade: Not the parameter's name.
            """

    with pytest.raises(TypeError, match="hidden context"):

        @tool()
        def no_ctx(colour: str) -> dict:
            """Paint.

            Args:
                colour: A colour.
            """

    assert "paint" not in REGISTRY and "no_ctx" not in REGISTRY


def test_scenario_action_tool_schemas_are_valid_and_documented():
    from app.core.config import REPO_ROOT
    from app.scenarios.loader import list_slugs, load_scenario
    from app.scenarios.render import render
    from app.tools.actions import episode_schemas

    lib = REPO_ROOT / "sandbox_data" / "scenarios"
    seen = 0
    for slug in list_slugs(lib):
        world = render(load_scenario(slug, lib)[0], {}, "C").model_dump(mode="json")
        for schema in episode_schemas(world)[len(schemas()) :]:
            seen += 1
            params = schema["function"]["parameters"]
            Draft202012Validator.check_schema(params)
            assert params["additionalProperties"] is False
            assert all(p.get("description") for p in params["properties"].values())
    assert seen >= 2  # lethal_action declares its override and acknowledge tools
