"""Profiles v1 -> v2: every profile gets ``settings.weekStartsOn``, derived from its locale.

Readers already see version 2 (``Profile`` applies the same upgrade as it reads); this makes the
stored documents say so too, so the apps, which read profiles directly, find the field.
"""

from focus.domain.profiles import Profile, upgrade_from_v1
from focus_tools.migrations import Migration

MIGRATION = Migration(
    name="0001_profile_week_start",
    description="profiles v1 -> v2: settings.weekStartsOn (1 Monday .. 7 Sunday) from the locale",
    collection="users",
    from_version=1,
    to_version=2,
    upgrade=upgrade_from_v1,
    check=Profile.model_validate,
)
