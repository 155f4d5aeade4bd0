"""Device home screen: greeting, plan and the first rows of recommendations."""

from urllib.parse import quote

from scripthost_sdk import (
    BackendError,
    BackendResponse,
    Request,
    Response,
    backend,
    config,
    json_response,
    log,
)


def handle(req: Request) -> Response:
    user = req.params.get("user")
    if not user:
        return json_response({"error": "missing query parameter: user"}, status=400)

    # One batch: the host calls both services concurrently.
    profile, recommendations = backend.batch(
        [
            backend.request("profile", f"/users/{quote(user, safe='')}"),
            backend.request("recommendations", f"/for/{quote(user, safe='')}"),
        ]
    )
    if isinstance(profile, BackendError):
        return json_response({"error": f"profile service: {profile.kind}"}, status=502)
    if profile.status == 404:
        return json_response({"error": f"unknown user {user}"}, status=404)
    if not profile.ok:
        return json_response({"error": f"profile service: status {profile.status}"}, status=502)

    # Recommendations are optional: without them the screen renders with no rows.
    if isinstance(recommendations, BackendResponse) and recommendations.ok:
        items, degraded = recommendations.json()["items"], False
    else:
        items, degraded = [], True
    rows = items[: int(config.get("max_items", "3"))]

    person = profile.json()
    log.info("home rendered", user=user, rows=len(rows))
    return json_response(
        {
            "greeting": f"{config.get('greeting', 'Hi')}, {person['name']}!",
            "plan": person["plan"],
            "rows": rows,
            "degraded": degraded,
        }
    )
