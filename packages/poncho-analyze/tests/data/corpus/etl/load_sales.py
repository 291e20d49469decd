"""Load the daily sales exports into the warehouse (an ETL job run by cron)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import create_engine, text

from utils.cleaning import normalize_columns
from utils import settings

log = logging.getLogger("load_sales")


def read_config(path: Path) -> dict:
    with path.open() as f:
        return yaml.safe_load(f)


def load(frame: pd.DataFrame, url: str) -> int:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM staging_sales"))
        frame.to_sql("staging_sales", conn, if_exists="append", index=False)
    return len(frame)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("exports", type=Path, nargs="+")
    parser.add_argument("--config", type=Path, default=Path("etl.yaml"))
    args = parser.parse_args()
    config = read_config(args.config)
    frames = [normalize_columns(pd.read_csv(p)) for p in args.exports]
    sales = pd.concat(frames)
    sales["amount"] = np.round(sales["amount"].astype(float), 2)
    log.info("loaded %d rows", load(sales, config.get("url", settings.DEFAULT_URL)))


if __name__ == "__main__":
    main()
