"""The review desk's API (SPEC §11): the queue of uploads waiting for a human, one upload with
its image and fields, and the reviewer's decisions, behind an HTTP API with a Cognito JWT
authorizer. It shares the function's artifact (src/) and its domain rules."""
