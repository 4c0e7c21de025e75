"""Push tokens: a registered device hands the server its FCM token; the server keeps one document
per device, one device per token, forgets tokens FCM no longer knows or the app stopped
refreshing, and never lets a client read one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import envelope, register_device

from firebase_emulator_harness import EmulatorSuite, User, assert_denied, wait_for
from focus.services import push_tokens

TOKEN = "fcm-token:APA91bH" + "x" * 140


def register(
    firebase: EmulatorSuite,
    user: User,
    device_id: str = "iphone-1",
    token: str = TOKEN,
    **more: Any,
) -> Any:
    return firebase.functions.call(
        "registerPushToken", envelope({"deviceId": device_id, "token": token, **more}), user=user
    )


def tokens_of(firebase: EmulatorSuite, user: User) -> dict[str, dict[str, Any]]:
    """The person's push-token documents by device id, as the server sees them."""
    found = firebase.firestore.as_owner().query(f"users/{user.uid}/pushTokens")
    return {path.rsplit("/", 1)[1]: doc for path, doc in found}


def test_a_registered_device_registers_its_token(firebase: EmulatorSuite, user: User) -> None:
    answer = register(firebase, user).unwrap()["data"]

    assert answer["registered"] is True
    stored = tokens_of(firebase, user)
    assert list(stored) == ["iphone-1"]
    token = stored["iphone-1"]
    assert (token["token"], token["platform"], token["appVersion"]) == (TOKEN, "ios", "3.4.0")
    assert token["registeredAt"] == token["refreshedAt"]
    assert answer["refreshedAt"] == token["refreshedAt"].isoformat().replace("+00:00", "Z")


def test_registering_the_same_token_again_refreshes_the_one_document(
    firebase: EmulatorSuite, user: User
) -> None:
    register(firebase, user).unwrap()
    first = tokens_of(firebase, user)["iphone-1"]

    again = register(firebase, user, platform="ios").unwrap()["data"]

    stored = tokens_of(firebase, user)
    assert list(stored) == ["iphone-1"]
    assert stored["iphone-1"]["registeredAt"] == first["registeredAt"]
    assert stored["iphone-1"]["refreshedAt"] > first["refreshedAt"]
    assert again["refreshedAt"] == stored["iphone-1"]["refreshedAt"].isoformat().replace(
        "+00:00", "Z"
    )


def test_a_rotated_token_replaces_the_devices_old_one(firebase: EmulatorSuite, user: User) -> None:
    register(firebase, user).unwrap()
    first = tokens_of(firebase, user)["iphone-1"]

    register(firebase, user, token="rotated-token").unwrap()

    stored = tokens_of(firebase, user)["iphone-1"]
    assert stored["token"] == "rotated-token"
    assert stored["registeredAt"] > first["registeredAt"]


def test_a_token_moving_to_another_device_id_leaves_the_old_one(
    firebase: EmulatorSuite, user: User
) -> None:
    """A reinstall keeps the FCM token but gets a new install id: one token, one device."""
    register(firebase, user).unwrap()
    register_device(firebase, user, "iphone-1-reinstalled")

    register(firebase, user, "iphone-1-reinstalled").unwrap()

    assert list(tokens_of(firebase, user)) == ["iphone-1-reinstalled"]


def test_a_token_moving_to_another_account_leaves_the_first_person(
    firebase: EmulatorSuite, user: User
) -> None:
    """Someone signs out and another person signs in on the same phone: the first person's
    notifications must not reach it any more."""
    register(firebase, user).unwrap()
    other = firebase.auth.sign_up_anonymously()
    firebase.functions.call("launch", envelope(), user=other).unwrap()
    register_device(firebase, other, "shared-phone", platform="android")

    register(firebase, other, "shared-phone", platform="android").unwrap()

    assert tokens_of(firebase, user) == {}
    assert tokens_of(firebase, other)["shared-phone"]["platform"] == "android"


def test_a_holder_that_changed_while_the_token_moved_is_found_again_and_still_left(
    firebase: EmulatorSuite, user: User, monkeypatch: Any
) -> None:
    """The token's holders are found before the transaction, and another holder is deleted only
    if it is unchanged since: when the first person's token document changes in between (a sync
    push recorded on it), the commit is refused, the holders are found again, and the token
    still ends with the second person alone."""
    from focus.contracts.envelope import ClientInfo
    from focus.services.push_tokens import store

    register(firebase, user).unwrap()
    other = firebase.auth.sign_up_anonymously()
    firebase.functions.call("launch", envelope(), user=other).unwrap()
    register_device(firebase, other, "shared-phone", platform="android")
    find = store.query
    finds: list[int] = []

    def changed_in_between(*args: Any, **kwargs: Any) -> Any:
        found = find(*args, **kwargs)
        finds.append(len(found))
        if len(finds) == 1:
            firebase.firestore.as_owner().update(
                f"users/{user.uid}/pushTokens/iphone-1", {"sync": {"recentSends": []}}
            )
        return found

    monkeypatch.setattr(store, "query", changed_in_between)
    client = ClientInfo.model_validate({"platform": "android", "appVersion": "3.4.0", "build": 1})

    push_tokens.register(other.uid, "shared-phone", TOKEN, None, client, datetime.now(UTC))

    assert finds == [1, 1]  # the first person's document, found twice
    assert tokens_of(firebase, user) == {}
    assert tokens_of(firebase, other)["shared-phone"]["token"] == TOKEN


def test_an_unregistered_device_is_refused_and_nothing_is_stored(
    firebase: EmulatorSuite, user: User
) -> None:
    answer = register(firebase, user, "never-registered")

    assert answer.code == "FAILED_PRECONDITION"
    assert (answer.error or {})["details"]["reason"] == "DEVICE_NOT_REGISTERED"
    assert tokens_of(firebase, user) == {}


def test_a_malformed_token_is_refused(firebase: EmulatorSuite, user: User) -> None:
    for token in ["", "has spaces in it", "x" * 4097]:
        answer = register(firebase, user, token=token)
        assert answer.code == "INVALID_ARGUMENT", token
        assert (answer.error or {})["details"]["reason"] == "SCHEMA_VIOLATION"
    assert tokens_of(firebase, user) == {}


def test_forgetting_after_unregistered_deletes_only_the_token_fcm_refused(
    firebase: EmulatorSuite, user: User
) -> None:
    register(firebase, user, token="old-token").unwrap()
    register(firebase, user, token="new-token").unwrap()  # rotated before FCM answered

    assert push_tokens.forget(user.uid, "iphone-1", "old-token") is False
    assert tokens_of(firebase, user)["iphone-1"]["token"] == "new-token"

    assert push_tokens.forget(user.uid, "iphone-1", "new-token") is True
    assert tokens_of(firebase, user) == {}
    assert push_tokens.forget(user.uid, "iphone-1", "new-token") is False  # already gone


def test_tokens_not_refreshed_for_a_month_are_pruned_daily(
    firebase: EmulatorSuite, user: User
) -> None:
    register_device(firebase, user, "old-ipad")
    register(firebase, user).unwrap()
    register(firebase, user, "old-ipad", token="old-ipad-token").unwrap()
    month_ago = datetime.now(UTC) - push_tokens.STALE_AFTER - timedelta(minutes=1)
    firebase.firestore.as_owner().update(
        f"users/{user.uid}/pushTokens/old-ipad", {"refreshedAt": month_ago}
    )

    found = push_tokens.stale(datetime.now(UTC) - push_tokens.STALE_AFTER)
    assert [t.device_id for t in found if t.uid == user.uid] == ["old-ipad"]

    firebase.functions.run_scheduled("prune_push_tokens")

    wait_for(lambda: list(tokens_of(firebase, user)) == ["iphone-1"], message="stale token pruned")


def test_nobody_reads_or_writes_push_tokens_from_a_client(
    firebase: EmulatorSuite, user: User
) -> None:
    register(firebase, user).unwrap()
    path = f"users/{user.uid}/pushTokens/iphone-1"
    owner = firebase.firestore.as_user(user)
    stranger = firebase.firestore.as_user(firebase.auth.sign_up_anonymously())

    for db in (owner, stranger):
        assert_denied(lambda db=db: db.get(path))
        assert_denied(lambda db=db: db.query(f"users/{user.uid}/pushTokens"))
        assert_denied(lambda db=db: db.set(path, {"token": "mine-now"}))
        assert_denied(lambda db=db: db.delete(path))
    assert tokens_of(firebase, user)["iphone-1"]["token"] == TOKEN
