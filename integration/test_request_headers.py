"""Headers the proxy adds on the way upstream."""

import re

from harness import curl_json, header_values

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_request_id_generated_when_absent(proxy):
    ids = set()
    for _ in range(3):
        status, echo, _ = curl_json(proxy.url("/"))
        assert status == 200
        values = header_values(echo, "x-request-id")
        assert len(values) == 1, echo["headers"]
        assert UUID4.match(values[0].lower()), values[0]
        ids.add(values[0])
    assert len(ids) == 3, "request ids are not unique: %s" % ids


def test_request_id_kept_when_present(proxy):
    status, echo, _ = curl_json(proxy.url("/"), "-H", "X-Request-Id: my-own-id-42")
    assert status == 200
    assert header_values(echo, "x-request-id") == ["my-own-id-42"]


def test_forwarded_for_and_proto(proxy):
    status, echo, _ = curl_json(proxy.url("/"))
    assert status == 200
    assert header_values(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(echo, "x-forwarded-proto") == ["http"]


def test_forwarded_for_appends_client_ip(proxy):
    status, echo, _ = curl_json(proxy.url("/"), "-H", "X-Forwarded-For: 203.0.113.7")
    assert status == 200
    values = header_values(echo, "x-forwarded-for")
    joined = ",".join(values).replace(" ", "")
    assert joined == "203.0.113.7,127.0.0.1", values
