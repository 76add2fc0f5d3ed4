"""The dashboards: live /today (PostgreSQL, pushed) and /analytics (warehouse), one web app."""

from superstore.web.app import create_app
from superstore.web.config import WebConfig, web_config
from superstore.web.server import DashboardServer, serve, serve_until

__all__ = ["DashboardServer", "WebConfig", "create_app", "serve", "serve_until", "web_config"]
