"""The applications are mounted under /v1/apps/ on the server's engine, behind the same checks as the
OpenAI API (field errors 400, unknown app 404, model name 404). Their behaviour is tested by the apps."""


def test_math_app_answers_through_the_server(server):
    status, body = server.post_json("/v1/apps/math/solve", {"problem": "What is 12 + 7?", "max_tokens": 300,
                                                            "temperature": 0})
    assert status == 200, body
    assert body["model"] == "tiny-r1"
    assert body["usage"]["completion_tokens"] > 0


def test_app_errors_have_openai_bodies(server):
    status, body = server.post_json("/v1/apps/math/solve", {"problem": 5})
    assert status == 400 and body["error"]["param"] == "problem"
    status, body = server.post_json("/v1/apps/no/such/app", {})
    assert status == 404 and body["error"]["message"]
    status, body = server.post_json("/v1/apps/math/solve", {"problem": "1+1", "model": "gpt-4"})
    assert status == 404 and body["error"]["code"] == "model_not_found"
    status, body = server.post_json("/v1/apps/math/solve", {"problem": "1+1", "temperature": -2})
    assert status == 400
