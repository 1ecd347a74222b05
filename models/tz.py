"""China's time zone, declared once: pages, documents, flows, the scheduler and SQL all use it.

A leaf module (no project imports) so that any model, however low, can use it without a cycle.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

# Its name is what PostgreSQL (`AT TIME ZONE`) and the cron scheduler take; UTC+8 with no DST since 1991.
CHINA_TZ_NAME = "Asia/Shanghai"
CHINA = ZoneInfo(CHINA_TZ_NAME)
