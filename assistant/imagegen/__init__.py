"""Creating images on request (issue #27): `generator` calls the Images API and checks
what comes back, `http` bounds its answers and image URLs, `tool` is the `create_image`
tool's work (limits, catalog), `intent` recognises a request in a user's words, `phrases`
is what the assistant says about it.

Nothing is imported here: `assistant.phrases` reads this package's phrases while the
modules above import `assistant.phrases`.
"""
