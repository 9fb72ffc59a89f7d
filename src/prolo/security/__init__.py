"""Users, roles, authentication and the audit trail."""
