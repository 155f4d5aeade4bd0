"""A small synchronous client for the management API, used by the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

Document = dict[str, Any]
# Deploys compile the module before answering: seconds, not milliseconds.
_DEPLOY_TIMEOUT_SECONDS = 300.0


class ServerError(Exception):
    """The server refused a request or could not be reached; str() is one readable line."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def split_endpoint(target: str) -> tuple[str, str]:
    """`tv/home` -> ("tv", "home"); the server checks the names themselves."""
    namespace, path = split_scope(target)
    if path is None:
        raise ValueError(f"expected NAMESPACE/PATH, got {target!r}")
    return namespace, path


def split_scope(target: str) -> tuple[str, str | None]:
    """`tv` -> ("tv", None), `tv/home` -> ("tv", "home")."""
    namespace, _, path = target.strip("/").partition("/")
    if not namespace:
        raise ValueError(f"expected NAMESPACE or NAMESPACE/PATH, got {target!r}")
    return namespace, path or None


class AdminClient:
    def __init__(self, server: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=server.rstrip("/") + "/admin/v1", headers=headers, timeout=30.0
        )
        self._server = server

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def endpoints(self) -> list[Document]:
        endpoints: list[Document] = self._call("GET", "/endpoints")["endpoints"]
        return endpoints

    def endpoint(self, namespace: str, path: str) -> Document | None:
        try:
            return self._call("GET", _endpoint_url(namespace, path))
        except ServerError as error:
            if error.status == 404:
                return None
            raise

    def put_endpoint(
        self, namespace: str, path: str, methods: list[str], config: Mapping[str, str]
    ) -> Document:
        return self._call(
            "PUT",
            _endpoint_url(namespace, path),
            json={"methods": methods, "config": dict(config)},
        )

    def upload(
        self,
        namespace: str,
        path: str,
        module: bytes,
        *,
        source: str | None,
        language: str | None,
        message: str,
        activate: bool,
        build: Mapping[str, Any] | None = None,
        canary: float | None = None,
    ) -> Document:
        form = {"message": message, "activate": "true" if activate else "false"}
        if source is not None:
            form["source"] = source
        if language is not None:
            form["language"] = language
        if canary is not None:
            form["canary"] = str(canary)
        files = {"module": ("module.wasm", module, "application/wasm")}
        if build is not None:
            files["build"] = ("build.json", json.dumps(dict(build)).encode(), "application/json")
        return self._call(
            "POST",
            _endpoint_url(namespace, path) + "/-/versions",
            data=form,
            files=files,
            timeout=_DEPLOY_TIMEOUT_SECONDS,
        )

    def scratch(
        self, namespace: str, path: str, bundle: bytes, request: Mapping[str, Any]
    ) -> Document:
        """Run `bundle` once as the endpoint would, storing nothing; `invoke`'s document."""
        return self._call(
            "POST",
            _endpoint_url(namespace, path) + "/-/scratch",
            data={"request": json.dumps(dict(request))},
            files={"module": ("script.bundle", bundle, "application/octet-stream")},
            timeout=_DEPLOY_TIMEOUT_SECONDS,
        )

    def has_runtime(self, sha256: str) -> bool:
        try:
            self._call("GET", f"/runtimes/{sha256}")
        except ServerError as error:
            if error.status == 404:
                return False
            raise
        return True

    def upload_runtime(self, component: bytes) -> Document:
        """Upload a runtime; the server compiles it before answering (once per fleet)."""
        return self._call(
            "POST",
            "/runtimes",
            files={"module": ("runtime.wasm", component, "application/wasm")},
            timeout=_DEPLOY_TIMEOUT_SECONDS,
        )

    def versions(self, namespace: str, path: str) -> list[Document]:
        versions: list[Document] = self._call(
            "GET", _endpoint_url(namespace, path) + "/-/versions"
        )["versions"]
        return versions

    def activate(self, namespace: str, path: str, version: str) -> Document:
        return self._call(
            "POST",
            _endpoint_url(namespace, path) + "/-/activate",
            json={"version": version},
            timeout=_DEPLOY_TIMEOUT_SECONDS,
        )

    def traffic(self, namespace: str, path: str) -> Document:
        return self._call("GET", _endpoint_url(namespace, path) + "/-/traffic")

    def patch_traffic(self, namespace: str, path: str, changes: Mapping[str, Any]) -> Document:
        return self._call(
            "PATCH",
            _endpoint_url(namespace, path) + "/-/traffic",
            json=dict(changes),
            timeout=_DEPLOY_TIMEOUT_SECONDS,
        )

    def end_canary(self, namespace: str, path: str, how: str) -> Document:
        """`how` is promote or abort."""
        return self._call(
            "POST",
            _endpoint_url(namespace, path) + f"/-/traffic/{how}",
            json={},
            timeout=_DEPLOY_TIMEOUT_SECONDS,
        )

    def canary(self, namespace: str, path: str) -> Document:
        return self._call("GET", _endpoint_url(namespace, path) + "/-/canary")

    def log(self, namespace: str, path: str, limit: int) -> list[Document]:
        events: list[Document] = self._call(
            "GET", _endpoint_url(namespace, path) + "/-/log", params={"limit": limit}
        )["events"]
        return events

    def files(self, namespace: str, path: str, version: str) -> Document:
        return self._call("GET", _endpoint_url(namespace, path) + f"/-/versions/{version}/files")

    def set_label(self, namespace: str, path: str, label: str, version: str | None) -> Document:
        url = _endpoint_url(namespace, path) + f"/-/labels/{label}"
        if version is None:
            return self._call("DELETE", url)
        return self._call("PUT", url, json={"version": version})

    def delete(self, namespace: str, path: str) -> None:
        self._call("DELETE", _endpoint_url(namespace, path))

    def set_enabled(self, namespace: str, path: str | None, enabled: bool) -> Document:
        url = _endpoint_url(namespace, path) if path else f"/namespaces/{namespace}"
        return self._call("PUT", url + "/-/enabled", json={"enabled": enabled})

    def quotas(self, namespace: str | None, path: str | None) -> Document:
        return self._call("GET", _quota_url(namespace, path))

    def set_quotas(
        self, namespace: str | None, path: str | None, quotas: Mapping[str, int]
    ) -> Document:
        return self._call("PUT", _quota_url(namespace, path), json={"quotas": dict(quotas)})

    def services(self) -> list[Document]:
        services: list[Document] = self._call("GET", "/services")["services"]
        return services

    def service(self, name: str) -> Document | None:
        try:
            return self._call("GET", f"/services/{name}")
        except ServerError as error:
            if error.status == 404:
                return None
            raise

    def put_service(self, name: str, spec: Mapping[str, Any]) -> Document:
        return self._call("PUT", f"/services/{name}", json=dict(spec))

    def patch_service(self, name: str, changes: Mapping[str, Any]) -> Document:
        return self._call("PATCH", f"/services/{name}", json=dict(changes))

    def delete_service(self, name: str) -> None:
        self._call("DELETE", f"/services/{name}")

    def audit(self, namespace: str | None = None, limit: int = 50) -> list[Document]:
        params: dict[str, str | int] = {"limit": limit}
        if namespace:
            params["namespace"] = namespace
        events: list[Document] = self._call("GET", "/audit", params=params)["events"]
        return events

    def _call(self, method: str, url: str, **kwargs: Any) -> Document:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TransportError as error:
            raise ServerError(f"cannot reach the server at {self._server}: {error}") from None
        if response.is_success:
            return response.json() if response.content else {}
        raise _server_error(response)


def _endpoint_url(namespace: str, path: str) -> str:
    return f"/endpoints/{namespace}/{path.strip('/')}"


def _quota_url(namespace: str | None, path: str | None) -> str:
    if namespace is None:
        return "/quotas"
    if path is None:
        return f"/namespaces/{namespace}/-/quotas"
    return _endpoint_url(namespace, path) + "/-/quotas"


def _server_error(response: httpx.Response) -> ServerError:
    try:
        document = response.json()
        code, message = str(document["error"]), str(document["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "error", response.text.strip()[:200] or response.reason_phrase
    return ServerError(f"{response.status_code} {code}: {message}", response.status_code, code)
