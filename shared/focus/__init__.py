"""The Focus backend's shared package.

``focus.domain`` is the pure product logic: pydantic models and functions, no I/O and no
Firebase or Google imports. ``focus.platform`` is the thin layer every functions codebase shares:
Firestore repositories, clients, logging, the callable envelope and the error mapping.
"""
