"""The mobile API's request and response models (head versions): pure pydantic, camelCase on the
wire. Each callable in functions/api takes one request model and answers one response model."""
