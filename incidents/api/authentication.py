"""API tokens sent as `Authorization: Bearer <key>`, or `Token <key>` as before.

Bearer is the scheme OpenAPI's `http`/`bearer` security scheme names, so generated clients
and Swagger UI send it without configuration; DRF's own prefix, `Token`, stays accepted for
clients written against the earlier documentation. Either way the key is a DRF token
(`manage.py drf_create_token <username>`), checked by DRF.
"""

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    # Also what a 401 names in its WWW-Authenticate header.
    keyword = "Bearer"

    def authenticate(self, request):
        # Each prefix is DRF's own check (None when the header uses another prefix); a key
        # that is not valid raises AuthenticationFailed, a JSON 401, under either prefix.
        return super().authenticate(request) or TokenAuthentication().authenticate(request)
