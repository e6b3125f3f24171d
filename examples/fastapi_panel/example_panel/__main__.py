"""``python -m example_panel``: the panel on http://127.0.0.1:8002, its data in panel.sqlite3."""

from __future__ import annotations

import os

import uvicorn
from sqlalchemy import create_engine

from .app import create_app

if __name__ == "__main__":
    engine = create_engine(os.environ.get("PANEL_DATABASE_URL", "sqlite:///panel.sqlite3"))
    uvicorn.run(create_app(engine), host="127.0.0.1", port=8002)
