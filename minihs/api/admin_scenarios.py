"""Admin API: scenarios (minihs only, not in the Matrix spec). Every handler calls
:func:`minihs.api.admin.require_admin_api` first."""

from __future__ import annotations

ROUTES: list = []
