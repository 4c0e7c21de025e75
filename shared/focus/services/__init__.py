"""Services: the use cases (sessions, days, emergency pass, consents, community, privacy).
Each runs one unit of work through ``focus.adapters.store`` and decides with the pure domain."""
