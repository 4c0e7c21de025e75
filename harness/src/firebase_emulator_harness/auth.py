"""Users and real ID tokens from the Auth emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.http import OWNER, TIMEOUT_S, session

API_KEY = "fake-api-key"  # the Auth emulator accepts any key


@dataclass
class User:
    """A signed-in user: pass it to callables and to ``Firestore.as_user``."""

    uid: str
    id_token: str
    refresh_token: str
    email: str | None = None
    anonymous: bool = False
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.id_token}"}


class AuthEmulator:
    def __init__(self, base_url: str, project: str) -> None:
        self.base_url = base_url
        self.project = project

    def _post(self, path: str, body: dict[str, Any], *, owner: bool = False) -> dict[str, Any]:
        response = session().post(
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
        result: dict[str, Any] = response.json()
        return result

    def clear(self) -> None:
        """Delete every account in the project."""
        response = session().delete(
            f"{self.base_url}/emulator/v1/projects/{self.project}/accounts", timeout=TIMEOUT_S
        )
        response.raise_for_status()

    def sign_up_anonymously(self) -> User:
        """A new anonymous account, as the app creates on first launch."""
        body = self._post(
            "/identitytoolkit.googleapis.com/v1/accounts:signUp", {"returnSecureToken": True}
        )
        return User(body["localId"], body["idToken"], body["refreshToken"], anonymous=True)

    def create_user(
        self, email: str, password: str = "password-123", *, claims: dict[str, Any] | None = None
    ) -> User:
        """A new email/password account, signed in (with custom ``claims`` in its token, if any)."""
        body = self._post(
            "/identitytoolkit.googleapis.com/v1/accounts:signUp",
            {"email": email, "password": password, "returnSecureToken": True},
        )
        user = User(body["localId"], body["idToken"], body["refreshToken"], email=email)
        if claims:
            self.set_claims(user, claims)
        return user

    def set_claims(self, user: User, claims: dict[str, Any]) -> User:
        """Set custom claims and refresh the user's ID token so it carries them."""
        self._post(
            f"/identitytoolkit.googleapis.com/v1/projects/{self.project}/accounts:update",
            {"localId": user.uid, "customAttributes": json.dumps(claims)},
            owner=True,
        )
        user.claims = dict(claims)
        return self.refresh(user)

    def refresh(self, user: User) -> User:
        """Exchange the refresh token for a fresh ID token (as the client SDKs do hourly)."""
        response = session().post(
            f"{self.base_url}/securetoken.googleapis.com/v1/token",
            params={"key": API_KEY},
            data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
            timeout=TIMEOUT_S,
        )
        if response.status_code != 200:
            raise EmulatorError(
                f"token refresh failed: {response.text}", status=response.status_code
            )
        body = response.json()
        user.id_token, user.refresh_token = body["id_token"], body["refresh_token"]
        return user

    def lookup(self, uid: str) -> dict[str, Any] | None:
        """The stored account (as the Admin SDK sees it), or None if it does not exist."""
        body = self._post(
            f"/identitytoolkit.googleapis.com/v1/projects/{self.project}/accounts:lookup",
            {"localId": [uid]},
            owner=True,
        )
        users = body.get("users") or []
        return users[0] if users else None
