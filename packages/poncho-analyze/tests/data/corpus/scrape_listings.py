#!/usr/bin/env python3
"""Scrape the listings of a real-estate site into a CSV file."""
import csv
import sys
import time
from urllib.parse import urljoin

import requests
from bs4 import BeautifulSoup
from tqdm import tqdm

try:
    import lxml  # noqa: F401  (faster parser when present)

    PARSER = "lxml"
except ImportError:
    PARSER = "html.parser"

BASE = "https://example.org/listings/"


def pages(session, first):
    url = first
    while url:
        response = session.get(url, timeout=30)
        response.raise_for_status()
        soup = BeautifulSoup(response.text, PARSER)
        yield soup
        link = soup.find("a", rel="next")
        url = urljoin(url, link["href"]) if link else None
        time.sleep(1)


def main(out):
    with requests.Session() as session, open(out, "w", newline="") as f:
        writer = csv.writer(f)
        for soup in tqdm(pages(session, BASE)):
            for item in soup.select(".listing"):
                writer.writerow([item.select_one(".title").text, item.select_one(".price").text])


if __name__ == "__main__":
    main(sys.argv[1])
