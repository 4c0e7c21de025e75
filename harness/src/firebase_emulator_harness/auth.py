"""Users and real ID tokens from the Auth emulator."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.http import OWNER, TIMEOUT_S, node_session
from firebase_emulator_harness.values import JsonInput, JsonObject, JsonValue, json_object, to_json

API_KEY = "fake-api-key"  # the Auth emulator accepts any key
# The audience of a custom token (what the Admin SDK's create_custom_token puts in it).
CUSTOM_TOKEN_AUDIENCE = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
)


@dataclass
class User:
    """A signed-in user: pass it to callables and to ``Firestore.as_user``."""

    uid: str
    id_token: str
    refresh_token: str
    email: str | None = None
    anonymous: bool = False
    claims: JsonObject = field(default_factory=dict)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.id_token}"}


def _unsigned_jwt(payload: JsonObject) -> str:
    def part(data: JsonObject) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


class AuthEmulator:
    def __init__(self, base_url: str, project: str) -> None:
        self.base_url = base_url
        self.project = project

    def _post(self, path: str, body: JsonObject, *, owner: bool = False) -> JsonObject:
        response = node_session().post(
            f"{self.base_url}{path}",
            params=None if owner else {"key": API_KEY},
            json=body,
            headers=OWNER if owner else None,
            timeout=TIMEOUT_S,
        )
        if response.status_code != 200:
            raise EmulatorError(
                f"Auth emulator {path}: {response.text}", status=response.status_code
            )
        return json_object(response.json(), path)

    def clear(self) -> None:
        """Delete every account in the project."""
        response = node_session().delete(
            f"{self.base_url}/emulator/v1/projects/{self.project}/accounts", timeout=TIMEOUT_S
        )
        response.raise_for_status()

    def sign_up_anonymously(self) -> User:
        """A new anonymous account, as the app creates on first launch."""
        body = self._post(
            "/identitytoolkit.googleapis.com/v1/accounts:signUp", {"returnSecureToken": True}
        )
        return User(
            str(body["localId"]), str(body["idToken"]), str(body["refreshToken"]), anonymous=True
        )

    def create_user(
        self,
        email: str,
        password: str = "password-123",
        *,
        claims: Mapping[str, JsonInput] | None = None,
    ) -> User:
        """A new email/password account, signed in (with custom ``claims`` in its token, if any)."""
        body = self._post(
            "/identitytoolkit.googleapis.com/v1/accounts:signUp",
            {"email": email, "password": password, "returnSecureToken": True},
        )
        user = User(
            str(body["localId"]), str(body["idToken"]), str(body["refreshToken"]), email=email
        )
        if claims:
            self.set_claims(user, claims)
        return user

    def as_uid(self, uid: str, claims: Mapping[str, JsonInput] | None = None) -> User:
        """The user ``uid``, signed in with a custom token: the counterpart of
        ``authenticatedContext(uid, tokenOptions)`` in ``@firebase/rules-unit-testing``.

        The account is created if it does not exist (calling again with the same ``uid`` signs the
        same account in again). Its ID token is real, so the rules see ``request.auth.uid == uid``
        and callables receive the user. ``claims`` ride in that token (and in every token refreshed
        from it), as the claims of a custom token do; they are not stored on the account, so the
        Admin SDK does not see them: use ``set_claims`` for that.
        """
        now = int(time.time())
        token = _unsigned_jwt(
            {
                "aud": CUSTOM_TOKEN_AUDIENCE,
                "iat": now,
                "exp": now + 3600,
                "uid": uid,
                "claims": to_json(dict(claims or {})),
            }
        )
        body = self._post(
            "/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken",
            {"token": token, "returnSecureToken": True},
        )
        return User(
            uid, str(body["idToken"]), str(body["refreshToken"]), claims=_object(to_json(claims))
        )

    def set_claims(self, user: User, claims: Mapping[str, JsonInput]) -> User:
        """Set custom claims and refresh the user's ID token so it carries them."""
        stored = _object(to_json(claims))
        self._post(
            f"/identitytoolkit.googleapis.com/v1/projects/{self.project}/accounts:update",
            {"localId": user.uid, "customAttributes": json.dumps(stored)},
            owner=True,
        )
        user.claims = stored
        return self.refresh(user)

    def refresh(self, user: User) -> User:
        """Exchange the refresh token for a fresh ID token (as the client SDKs do hourly)."""
        response = node_session().post(
            f"{self.base_url}/securetoken.googleapis.com/v1/token",
            params={"key": API_KEY},
            data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
            timeout=TIMEOUT_S,
        )
        if response.status_code != 200:
            raise EmulatorError(
                f"token refresh failed: {response.text}", status=response.status_code
            )
        body = json_object(response.json(), "token refresh")
        user.id_token, user.refresh_token = str(body["id_token"]), str(body["refresh_token"])
        return user

    def lookup(self, uid: str) -> JsonObject | None:
        """The stored account (as the Admin SDK sees it), or None if it does not exist."""
        body = self._post(
            f"/identitytoolkit.googleapis.com/v1/projects/{self.project}/accounts:lookup",
            {"localId": [uid]},
            owner=True,
        )
        users = body.get("users") or []
        return json_object(users[0], "account") if isinstance(users, list) and users else None


def _object(value: JsonValue) -> JsonObject:
    return value if isinstance(value, dict) else {}
