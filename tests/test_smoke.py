import pytest


@pytest.mark.django_db
def test_api_records_a_message(api, channel):
    response = api.post("/api/v1/messages/", {
        "channel": "shop-a", "external_id": "m1", "direction": "inbound",
        "sender": {"address": "Buyer@Example.com", "name": "B"}, "subject": "Hi", "body_text": "Hello",
    }, format="json")
    assert response.status_code == 201, response.json()
    again = api.post("/api/v1/messages/", {
        "channel": "shop-a", "external_id": "m1", "direction": "inbound",
        "sender": {"address": "Buyer@Example.com", "name": "B"}, "subject": "Hi", "body_text": "Hello",
    }, format="json")
    assert again.status_code == 200
    assert again.json()["created"] is False
    detail = api.get(f"/api/v1/inquiries/{response.json()['inquiry_id']}/")
    assert detail.status_code == 200, detail.content
