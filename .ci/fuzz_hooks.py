"""Schemathesis hooks for .ci/api-fuzz: generators for the rules an OpenAPI
schema cannot say, so that generated data reaches past validation."""

import schemathesis
from hypothesis import strategies as st

# Sign-up refuses passwords that zxcvbn finds easy to guess (src/auth/password.rs),
# which no JSON Schema keyword says: almost every generated password is refused.
# Three in four generated sign-ups get a passphrase of random words instead, so
# the account-creating path is fuzzed too; the rest keep the generated password.
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=5, max_size=9)
PASSPHRASE = st.lists(WORD, min_size=4, max_size=6).map(" ".join)


@schemathesis.hook
def flatmap_body(ctx, body):
    operation = ctx.operation
    if operation.method.upper() != "POST" or not operation.path.endswith("/auth/signup"):
        return st.just(body)
    if not isinstance(body, dict) or not isinstance(body.get("password"), str):
        return st.just(body)
    strong = PASSPHRASE.map(lambda password: {**body, "password": password})
    return st.one_of(strong, strong, strong, st.just(body))
